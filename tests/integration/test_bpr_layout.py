"""The slices reach the network in the layout bpreg saw: a dcm2niix NIfTI read with nibabel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from mhubio.bpr.preprocess import to_bpreg_layout
from mhubio.bpr.series import read_ct_slices

REAL_CT = Path("/work/shared/data/pancreas-ct-cb001")
#: dcm2niix on PATH or beside the interpreter (the pip package installs it into the environment's bin folder).
DCM2NIIX = shutil.which(
    "dcm2niix", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
)


@pytest.mark.slow
@pytest.mark.skipif(not REAL_CT.is_dir() or DCM2NIIX is None, reason="needs the real CT and dcm2niix")
def test_layout_equals_dcm2niix_volume_as_bpreg_reads_it(tmp_path) -> None:
    run = subprocess.run([DCM2NIIX, "-z", "y", "-o", str(tmp_path), "-f", "ct", str(REAL_CT)], capture_output=True)
    assert run.returncode == 0, run.stdout + run.stderr
    image = nib.load(tmp_path / "ct.nii.gz")
    # bpreg keeps an LAS volume as it is (no axis reordering, no flip: the z column of the affine is positive).
    assert nib.aff2axcodes(image.affine) == ("L", "A", "S")
    assert image.affine[2, 2] > 0
    bpreg_slices = np.transpose(image.get_fdata(dtype=np.float32), (2, 0, 1))
    ours = to_bpreg_layout(read_ct_slices(sorted(REAL_CT.glob("*.dcm"))).volume_hu)
    np.testing.assert_array_equal(ours, bpreg_slices)
