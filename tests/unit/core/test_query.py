import pytest

from mhubio.core.filetypes import FileType
from mhubio.core.query import Query


@pytest.mark.parametrize(
    "text, type_, meta, expected",
    [
        ("nifti:mod=ct", FileType.NIFTI, {"mod": "ct"}, True),
        ("nifti:mod=ct", FileType.NIFTI, {"mod": "mr"}, False),
        ("nifti:mod=ct", FileType.NRRD, {"mod": "ct"}, False),
        ("nifti:mod=ct|nrrd:mod=ct", FileType.NRRD, {"mod": "ct"}, True),
        ("nifti:mod=seg:roi=HEART", FileType.NIFTI, {"mod": "seg", "roi": "ESOPHAGUS,HEART"}, True),
        ("nifti:mod=seg:roi=LIVER", FileType.NIFTI, {"mod": "seg", "roi": "ESOPHAGUS,HEART"}, False),
        ("nifti:roi=LIVER,HEART", FileType.NIFTI, {"roi": "HEART"}, True),
        ("nifti:mod!=seg", FileType.NIFTI, {"mod": "ct"}, True),
        ("nifti:mod!=seg", FileType.NIFTI, {"mod": "seg"}, False),
        ("nifti:mod!=seg", FileType.NIFTI, {}, True),
        ("nifti:mod=seg", FileType.NIFTI, {}, False),
        ("*:mod=seg", FileType.DICOMSEG, {"mod": "seg"}, True),
        ("nifti:model=nnunet*", FileType.NIFTI, {"model": "nnunet_segthor"}, True),
        ("nifti:roi=*KIDNEY", FileType.NIFTI, {"roi": "LEFT_KIDNEY,LIVER"}, True),
        ("nifti:roi!=*KIDNEY", FileType.NIFTI, {"roi": "LEFT_KIDNEY,LIVER"}, False),
    ],
)
def test_matches(text, type_, meta, expected):
    assert Query.parse(text).matches(type_, meta) is expected


@pytest.mark.parametrize("text", ["", "  ", "bogus:mod=ct", "nifti:mod", "nifti:=ct", "nifti:mod=", ":mod=ct"])
def test_parse_errors(text):
    with pytest.raises(ValueError):
        Query.parse(text)


def test_roundtrip_string():
    q = Query.parse("nifti:mod=seg:roi!=HEART,AORTA|dicom:mod=ct")
    assert str(q) == "nifti:mod=seg:roi!=HEART,AORTA|dicom:mod=ct"
    assert Query.parse(str(q)) == q


def test_may_match_treats_star_as_unknown():
    q = Query.parse("nifti:mod=seg:roi=HEART")
    assert q.may_match(FileType.NIFTI, {"mod": "seg", "roi": "*"})
    assert not q.may_match(FileType.NIFTI, {"mod": "seg", "roi": "LIVER"})
