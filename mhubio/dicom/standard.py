"""highdicom's tables of the DICOM standard, loaded into this process ahead of the first object it builds.

Every highdicom SOP instance (SEG, SR, RTSTRUCT) checks its attributes against the modules of its IOD, which
highdicom reads from a 22 MB JSON file the first time, once per process (about 0.3 s and 70 MB kept on this
project's machine). Loading them before worker processes are forked lets every worker share one copy.
"""

from __future__ import annotations

from highdicom import _standard_utils

TABLE_LOADERS = ("get_sop_class_iod_map", "get_iod_module_map", "get_module_attribute_map")
"""highdicom's cached loaders of the standard's tables (private API: a highdicom that renames them leaves each
process to load its own copy, as without :func:`load_standard_tables`)."""


def load_standard_tables() -> None:
    """Load highdicom's tables of the standard (IODs, their modules and attributes) into this process's caches."""
    for name in TABLE_LOADERS:
        loader = getattr(_standard_utils, name, None)
        if callable(loader):
            loader()
