"""Names from data: the UID grammar and the one safe-name function."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mhubio.core.naming import RESERVED_PREFIX, UnsafeNameError, path_inside, safe_name
from mhubio.dicom.uid import is_valid_uid, uid_problem


@pytest.mark.parametrize("uid", ["1", "0", "1.2.840.10008.1.2.1", "2.25." + "1" * 59])
def test_valid_uids(uid: str):
    assert is_valid_uid(uid), uid_problem(uid)


@pytest.mark.parametrize("uid", ["", "1.", ".1", "1..2", "1.02", "1.2a", "1.2 ", "../x", "1." + "2" * 63,
                                 "1.\u00b3", "mhub_logs"])
def test_invalid_uids(uid: str):
    assert uid_problem(uid) is not None


@pytest.mark.parametrize(("value", "name"), [
    ("1.2.3", "1.2.3"), ("../../x", "_.._.._x"), ("/etc/passwd", "_etc_passwd"), ("", "_"), (".", "_."),
    ("mhub_report.json", "_mhub_report.json"), ("MHUB_LOGS", "_MHUB_LOGS"), ("-rf", "_-rf"), ("a\x1b[2J", "a__2J"),
])
def test_safe_name_examples(value: str, name: str):
    assert safe_name(value) == name


@given(st.text(max_size=300))
def test_safe_name_is_one_harmless_component(value: str):
    name = safe_name(value)
    assert "/" not in name and "\x00" not in name and name not in (".", "..")
    assert not name.startswith((".", "-")) and not name.lower().startswith(RESERVED_PREFIX)
    assert 0 < len(name) <= 128


def test_long_values_keep_distinct_names():
    assert safe_name("9" * 300) != safe_name("9" * 301)


def test_path_inside_refuses_links_out_of_the_folder(tmp_path: Path):
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "out").symlink_to(tmp_path)
    assert path_inside(tmp_path / "base", "a") == tmp_path / "base" / "a"
    with pytest.raises(UnsafeNameError):
        path_inside(tmp_path / "base", "out/x")
