"""Realistic synthetic DICOM series with known ground truth, for tests, demos and benchmarks.

Every generator is deterministic for a given seed (pixels and UIDs), writes valid DICOM (checked with dciodvfy in
the tests) and returns a ``SyntheticSeries`` describing the files, their geometry and the ground-truth phantom.
"""

from mhubio.synthetic.anatomy import CT_SEGMENTS, MR_SEGMENTS, PET_CT_SEGMENTS
from mhubio.synthetic.ct import write_ct_series
from mhubio.synthetic.dataset import SyntheticPatient
from mhubio.synthetic.demo import DemoKind, write_demo_dataset
from mhubio.synthetic.geometry import AXIAL, SeriesGeometry
from mhubio.synthetic.mr import write_mr_series
from mhubio.synthetic.pet import FdgAcquisition, write_pet_ct_pair
from mhubio.synthetic.phantom import Phantom, make_ct_phantom, make_mr_phantom, make_pet_ct_phantoms
from mhubio.synthetic.series import TRANSFER_SYNTAXES, FileNaming, SliceOrder, SyntheticSeries

__all__ = [
    "AXIAL", "CT_SEGMENTS", "DemoKind", "FdgAcquisition", "FileNaming", "MR_SEGMENTS", "PET_CT_SEGMENTS", "Phantom",
    "SeriesGeometry", "SliceOrder", "SyntheticPatient", "SyntheticSeries", "TRANSFER_SYNTAXES", "make_ct_phantom",
    "make_mr_phantom", "make_pet_ct_phantoms", "write_ct_series", "write_demo_dataset", "write_mr_series",
    "write_pet_ct_pair",
]
