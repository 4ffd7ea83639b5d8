"""The BPR SR code tables follow the current DICOM standard (see mhubio/sr/data/README.md)."""

from __future__ import annotations

import pytest
from pydicom.sr._concepts_dict import concepts

from mhubio.bpr.scores import BodyPartRegion
from mhubio.sr.bpr import landmark_codes, region_codes
from tests.support.bpr import EXAMPLE_LANDMARK_SCORES

_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]


def verhoeff_valid(number: str) -> bool:
    check = 0
    for i, digit in enumerate(reversed(number)):
        check = _D[check][_P[i % 8][int(digit)]]
    return check == 0


def standard_meanings(scheme: str, value: str) -> set[str]:
    return {meaning for entries in concepts[scheme].values() for v, (meaning, _) in entries.items() if v == value}


def all_concepts():
    for code in landmark_codes().values():
        yield code.finding_site
        if code.modifier is not None:
            yield code.modifier
    yield from region_codes().values()


def test_every_landmark_of_the_lookup_table_has_a_code() -> None:
    assert set(landmark_codes()) == set(EXAMPLE_LANDMARK_SCORES)


def test_every_region_has_a_code() -> None:
    assert set(region_codes()) == {region.value for region in BodyPartRegion}


@pytest.mark.parametrize("concept", list(all_concepts()), ids=lambda c: f"{c.scheme_designator}-{c.value}")
def test_codes_are_valid_and_use_the_standard_meaning(concept) -> None:
    assert concept.scheme_designator in {"SCT", "DCM"}
    if concept.scheme_designator == "SCT":
        assert verhoeff_valid(concept.value)
    known = standard_meanings(concept.scheme_designator, concept.value)
    if known:
        assert concept.meaning in known


def test_known_paper_errors_are_corrected() -> None:
    codes = landmark_codes()
    assert codes["pelvis_start"].finding_site.value == "816092008"
    assert codes["pelvis_start"].modifier.value == "421610009"
    assert codes["lung_start"].modifier.value == "421610009"
    assert codes["lung_end"].modifier.value == "421812003"
    assert not verhoeff_valid("8106092008") and not verhoeff_valid("42161009")
    assert {c.modifier.value for c in codes.values() if c.modifier.meaning == "Bottom"} == {"421610009"}
