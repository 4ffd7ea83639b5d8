"""Differential fuzzing of the scan's plain value decoding against pydicom's conversion.

For any file, :func:`mhubio.dicom.scan.index_file` must give the same outcome (the same index entries, or the
same list and reason) whether the plain values are decoded from their bytes (:mod:`mhubio.dicom.plainvalues`)
or every value is converted by pydicom.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydicom import dcmread, dcmwrite
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.errors import BytesLengthException
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from mhubio.dicom import scan
from mhubio.synthetic.ct import write_ct_series
from tests.fuzz.test_fuzz_inputs import CUTS, EDITS, mutate
from tests.unit.dicom.test_plain_values import index_by_pydicom

KEYWORDS = ("SOPClassUID", "Modality", "SeriesNumber", "InstanceNumber", "AcquisitionTime", "ImageType",
            "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "SliceThickness", "Rows", "Columns",
            "NumberOfFrames", "BitsAllocated", "SamplesPerPixel", "RescaleSlope", "RescaleIntercept",
            "FrameOfReferenceUID")
VALUE_BYTES = st.binary(max_size=40) | st.lists(
    st.sampled_from([b"0", b"1", b"9", b".", b"-", b"+", b"e", b"E", b" ", b"\\", b"\x00", b"n", b"a", b"i"]),
    max_size=24,
).map(b"".join)


def _outcomes(path: Path) -> tuple[str, str]:
    """``repr`` of the outcome with plain values and with pydicom's conversion only (``repr``: nan equals nan)."""
    return repr(scan.index_file(path)), repr(index_by_pydicom(path))


@pytest.fixture(scope="module")
def ct_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_ct_series(tmp_path_factory.mktemp("ct"), shape=(2, 16, 16), seed=3).files[0]


@given(edits=EDITS, cut=CUTS)
def test_mutated_file_indexes_as_with_pydicom_values(ct_file, tmp_path_factory, edits, cut):
    path = tmp_path_factory.mktemp("mutated") / "file.dcm"
    path.write_bytes(mutate(ct_file.read_bytes(), edits, cut))
    plain, by_pydicom = _outcomes(path)
    assert plain == by_pydicom


@given(keyword=st.sampled_from(KEYWORDS), value=VALUE_BYTES, implicit=st.booleans(),
       vr=st.none() | st.sampled_from(["UN", "LO", "CS", "DS", "IS", "US", "SS", "UI", "FD"]))
def test_any_value_indexes_as_with_pydicom_values(ct_file, tmp_path_factory, keyword, value, implicit, vr):
    ds = dcmread(ct_file)
    tag = tag_for_keyword(keyword)
    written_vr = None if implicit else vr or dictionary_VR(tag)
    ds[tag] = RawDataElement(tag, written_vr, len(value), value, 0, implicit, True)
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    path = tmp_path_factory.mktemp("value") / "file.dcm"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dcmwrite(path, ds, implicit_vr=implicit, little_endian=True)
    except (ValueError, OverflowError, BytesLengthException):  # pydicom cannot write it: no file to compare on
        return
    plain, by_pydicom = _outcomes(path)
    assert plain == by_pydicom
