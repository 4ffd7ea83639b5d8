"""Header values decoded from their encoded bytes: the same index as pydicom's conversion, or pydicom decides."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from pydicom import dcmread, dcmwrite
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from mhubio.dicom import plainvalues, scan
from mhubio.dicom.plainvalues import Undecoded, plain_floats, plain_integer, plain_strings, plain_text
from mhubio.synthetic import write_ct_series

# (keyword, VR written in an explicit VR file (None: the standard's), encoded value)
EDGE_VALUES = [
    ("InstanceNumber", None, b"7 "),
    ("InstanceNumber", None, b" +3"),
    ("InstanceNumber", None, b"-2"),
    ("InstanceNumber", None, b"0012"),
    ("InstanceNumber", None, b"1.0 "),
    ("InstanceNumber", None, b"1.5 "),
    ("InstanceNumber", None, b"    "),
    ("InstanceNumber", None, b"abc "),
    ("InstanceNumber", None, b"1\\2 "),
    ("InstanceNumber", None, b"1234567890123 "),
    ("InstanceNumber", "LO", b"5 "),
    ("SeriesNumber", None, b""),
    ("SliceThickness", None, b"2.5 "),
    ("SliceThickness", None, b" -2.5e3 "),
    ("SliceThickness", None, b".5"),
    ("SliceThickness", None, b"5."),
    ("SliceThickness", None, b"1e400 "),
    ("SliceThickness", None, b"nan "),
    ("SliceThickness", None, b"inf "),
    ("SliceThickness", None, b"1\\2 "),
    ("SliceThickness", None, b"1,5 "),
    ("SliceThickness", None, b"0.123456789012345678 "),
    ("SliceThickness", "UN", b"2.5 "),
    ("PixelSpacing", None, b"0.8\\0.8 "),
    ("PixelSpacing", None, b"0.8\\\\0.8 "),
    ("PixelSpacing", None, b"0.8 "),
    ("PixelSpacing", None, b"0.8\\ 0.9"),
    ("ImagePositionPatient", None, b"-10\\20.5\\1e1 "),
    ("ImagePositionPatient", "FD", b"\x00" * 24),
    ("RescaleIntercept", None, b"-1024 "),
    ("Rows", None, b"\x20\x00"),
    ("Rows", None, b"\x20\x00\x20\x00"),
    ("Rows", "SS", b"\x20\x00"),
    ("Modality", None, b"CT"),
    ("Modality", None, b"CT\\MR "),
    ("Modality", None, b"\xc4T"),
    ("Modality", "LO", b"CT"),
    ("AcquisitionTime", None, b"120500.5 "),
    ("ImageType", None, b"ORIGINAL\\PRIMARY\\AXIAL "),
    ("ImageType", None, b"derived "),
    ("ImageType", None, b"  "),
    ("ImageType", None, b"ORIGINAL\\\\AXIAL\x00"),
    ("FrameOfReferenceUID", None, b"1.2.3\x00"),
    ("FrameOfReferenceUID", None, b"1.2.3\\1.2.4"),
    ("SOPClassUID", None, b"1.2.840.10008.5.1.4.1.1.2 "),
]


def _with_raw_value(source: Path, target: Path, keyword: str, vr: str | None, value: bytes, implicit: bool) -> None:
    """``source`` written to ``target`` in ``implicit`` or explicit VR little endian, with ``keyword`` set to the
    encoded ``value`` (as VR ``vr`` in explicit VR)."""
    ds = dcmread(source)
    tag = tag_for_keyword(keyword)
    written_vr = None if implicit else vr or dictionary_VR(tag)
    ds[tag] = RawDataElement(tag, written_vr, len(value), value, 0, implicit, True)
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom checks the values it converts to write implicit VR
        dcmwrite(target, ds, implicit_vr=implicit, little_endian=True)


def _refuse(*args: object) -> None:
    raise Undecoded


def index_by_pydicom(path: Path) -> scan.FileOutcome:
    """:func:`~mhubio.dicom.scan.index_file` with every value converted by pydicom, as before the plain decoding."""
    with pytest.MonkeyPatch.context() as patched:
        for name in ("plain_text", "plain_strings", "plain_integer", "plain_floats"):
            patched.setattr(scan, name, _refuse)
        return scan.index_file(path)


@pytest.fixture(scope="module")
def ct_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_ct_series(tmp_path_factory.mktemp("ct"), shape=(2, 16, 16), seed=1).files[0]


@pytest.mark.parametrize(("keyword", "vr", "value", "implicit"), [
    (keyword, vr, value, implicit)
    for keyword, vr, value in EDGE_VALUES
    for implicit in (False, True)
    if not (implicit and vr)  # an implicit VR file has the standard's VR
])
def test_index_equals_the_one_from_pydicom_values(ct_file: Path, tmp_path: Path, keyword: str, vr: str | None,
                                                  value: bytes, implicit: bool):
    path = tmp_path / "edge.dcm"
    _with_raw_value(ct_file, path, keyword, vr, value, implicit)
    assert repr(scan.index_file(path)) == repr(index_by_pydicom(path))  # repr: nan equals nan


def test_big_endian_file_indexes_as_with_pydicom_values(ct_file: Path, tmp_path: Path):
    ds = dcmread(ct_file)
    for _ in ds:  # converts each element, so that it is encoded afresh in big endian
        pass
    ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    path = tmp_path / "big.dcm"
    dcmwrite(path, ds, implicit_vr=False, little_endian=False)
    outcome = scan.index_file(path)
    assert outcome.frames and outcome.frames[0].rows == 16
    assert outcome == index_by_pydicom(path)


def _raw(ds: Dataset, keyword: str, value: bytes, vr: str | None = None, little: bool = True) -> Dataset:
    tag = tag_for_keyword(keyword)
    ds[tag] = RawDataElement(tag, vr, len(value), value, 0, vr is None, little)
    return ds


def test_plain_values_are_decoded_without_pydicom_conversion():
    ds = Dataset()
    _raw(ds, "Modality", b"CT")
    _raw(ds, "SOPInstanceUID", b"1.2.3\x00")
    _raw(ds, "ImageType", b"ORIGINAL\\PRIMARY ")
    _raw(ds, "InstanceNumber", b" 12 ")
    _raw(ds, "Rows", b"\x00\x02")
    _raw(ds, "PixelSpacing", b"0.5\\.75", vr="DS")
    _raw(ds, "SliceThickness", b"", vr="DS")
    assert plain_text(ds, "Modality") == "CT"
    assert plain_text(ds, "SOPInstanceUID") == "1.2.3"
    assert plain_strings(ds, "ImageType") == ("ORIGINAL", "PRIMARY")
    assert plain_integer(ds, "InstanceNumber") == 12
    assert plain_integer(ds, "Rows") == 512
    assert plain_floats(ds, "PixelSpacing") == (0.5, 0.75)
    assert plain_floats(ds, "SliceThickness") is None
    assert plain_text(ds, "FrameOfReferenceUID") == "" and plain_integer(ds, "Columns") is None
    assert all(isinstance(ds.get_item(tag), RawDataElement) for tag in ds.keys())


@pytest.mark.parametrize(("keyword", "value", "vr", "little"), [
    ("Modality", b"CT\\MR", None, True),
    ("InstanceNumber", b"1.0", None, True),
    ("Rows", b"\x00\x02", None, False),
    ("Rows", b"\x00\x02\x00\x02", None, True),
    ("PixelSpacing", b"nan\\1", None, True),
    ("Modality", b"CT", "LO", True),
])
def test_values_that_are_not_plain_are_left_to_pydicom(keyword: str, value: bytes, vr: str | None, little: bool):
    ds = _raw(Dataset(), keyword, value, vr=vr, little=little)
    decode = {"Modality": plain_text, "InstanceNumber": plain_integer, "Rows": plain_integer,
              "PixelSpacing": plain_floats}[keyword]
    with pytest.raises(Undecoded):
        decode(ds, keyword)


def test_emptiness_is_that_of_the_bytes_read_not_of_the_declared_length():
    """A file cut inside a value leaves fewer bytes than the element declares; pydicom converts those it has."""
    ds = Dataset()
    for keyword, declared, value in (("Rows", 2, b""), ("Columns", 2, b"\x02"), ("Modality", 10, b""),
                                     ("PixelSpacing", 8, b"")):
        tag = tag_for_keyword(keyword)
        ds[tag] = RawDataElement(tag, None, declared, value, 0, True, True)
    assert plain_integer(ds, "Rows") is None
    with pytest.raises(Undecoded):
        plain_integer(ds, "Columns")
    assert plain_text(ds, "Modality") == ""
    assert plain_floats(ds, "PixelSpacing") is None


@pytest.mark.parametrize("keyword", ["InstanceNumber", "ImagePositionPatient", "ImageOrientationPatient",
                                     "FrameOfReferenceUID", "Rows", "PixelSpacing", "BitsAllocated",
                                     "RescaleIntercept"])
@pytest.mark.parametrize("kept", [0, 1])
def test_file_cut_inside_a_value_indexes_as_with_pydicom_values(ct_file: Path, tmp_path: Path, keyword: str,
                                                                 kept: int):
    """The file ends ``kept`` bytes into the value of ``keyword`` (found by the fuzz run: a cut Rows gave 0).

    As in the fuzz run's file, the scan does not take it for an image that lost its pixel data (which it lists
    as truncated before decoding any value): the SOP class is unknown and there are no Columns.
    """
    ds = dcmread(ct_file)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.3.4"
    del ds.Columns
    whole = tmp_path / "whole.dcm"
    ds.save_as(whole)
    start = dcmread(whole).get_item(tag_for_keyword(keyword)).value_tell
    path = tmp_path / "cut.dcm"
    path.write_bytes(whole.read_bytes()[:start + kept])
    outcome = scan.index_file(path)
    assert outcome.frames or kept, outcome  # an empty value is absent, not invalid
    assert repr(outcome) == repr(index_by_pydicom(path))


def test_converted_and_deferred_elements_are_left_to_pydicom():
    ds = Dataset()
    ds.Modality = "CT"
    tag = tag_for_keyword("ImageType")
    ds[tag] = RawDataElement(tag, "CS", 6000, None, 0, False, True)
    with pytest.raises(Undecoded):
        plain_text(ds, "Modality")
    with pytest.raises(Undecoded):
        plain_strings(ds, "ImageType")


def test_unknown_keyword_is_an_error():
    with pytest.raises(KeyError, match="not a DICOM keyword"):
        plainvalues.plain_text(Dataset(), "NoSuchKeyword")
