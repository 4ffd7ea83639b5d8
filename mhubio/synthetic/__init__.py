"""Realistic synthetic DICOM series with known ground truth, for tests, demos and benchmarks.

Every generator is deterministic for a given seed (pixels and UIDs), writes valid DICOM (checked with dciodvfy in
the tests) and returns a ``SyntheticSeries`` describing the files, their geometry and the ground-truth phantom.
"""

from mhubio.synthetic.ct import write_ct_series
from mhubio.synthetic.geometry import AXIAL, SeriesGeometry
from mhubio.synthetic.phantom import Phantom, make_ct_phantom
from mhubio.synthetic.series import TRANSFER_SYNTAXES, FileNaming, SliceOrder, SyntheticSeries

__all__ = [
    "AXIAL", "FileNaming", "Phantom", "SeriesGeometry", "SliceOrder", "SyntheticSeries", "TRANSFER_SYNTAXES",
    "make_ct_phantom", "write_ct_series",
]
