"""Demo data sets of synthetic studies (used by ``mhub demo-data``)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

from mhubio.synthetic.ct import write_ct_series
from mhubio.synthetic.mr import write_mr_series
from mhubio.synthetic.pet import write_pet_ct_pair
from mhubio.synthetic.series import SyntheticSeries


class DemoKind(str, Enum):
    """Kind of demo data set."""

    CT = "ct"
    MR = "mr"
    PETCT = "petct"


def write_demo_dataset(
    out_dir: str | Path,
    kind: DemoKind | str = DemoKind.CT,
    n_series: int = 1,
    seed: int = 0,
) -> list[SyntheticSeries]:
    """Write ``n_series`` synthetic cases, one fake patient each, in ``out_dir/<kind>_<nnn>/``.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        Parent folder (created if missing).
    kind : DemoKind or str
        "ct" (chest-abdomen CT), "mr" (T2w abdomen-pelvis MR) or "petct" (FDG PET/CT, two series per case in
        ``CT/`` and ``PT/`` subfolders).
    n_series : int
        Number of cases; case ``i`` uses seed ``seed + i`` and PatientID ``MHUB-DEMO-<i+1:04d>``.
    seed : int
        Seed of the first case.

    Returns
    -------
    list of SyntheticSeries
        All written series, case by case (CT before PET for "petct").
    """
    kind = DemoKind(kind)
    if n_series < 1:
        raise ValueError(f"n_series must be at least 1, got {n_series}")
    out_dir = Path(out_dir)
    written: list[SyntheticSeries] = []
    for case in range(n_series):
        case_dir = out_dir / f"{kind.value}_{case + 1:03d}"
        patient_id = f"MHUB-DEMO-{case + 1:04d}"
        if kind is DemoKind.CT:
            written.append(write_ct_series(case_dir, seed=seed + case, patient_id=patient_id))
        elif kind is DemoKind.MR:
            written.append(write_mr_series(case_dir, seed=seed + case, patient_id=patient_id))
        else:
            written.extend(write_pet_ct_pair(case_dir, seed=seed + case, patient_id=patient_id))
    return written
