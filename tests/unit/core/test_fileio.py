"""Atomic writes: a target is written whole or not at all, alone or as a group."""

from __future__ import annotations

import pytest

from mhubio.core.fileio import atomic_path, atomic_paths


def test_atomic_path_renames_on_success_and_keeps_the_suffix(tmp_path):
    target = tmp_path / "sub" / "image.nii.gz"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.name.endswith(".nii.gz") and tmp.name.startswith(".tmp-")
        tmp.write_text("whole")
        assert not target.exists()
    assert target.read_text() == "whole"
    assert sorted(p.name for p in target.parent.iterdir()) == ["image.nii.gz"]


def test_atomic_path_leaves_an_existing_target_on_error(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer failed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_atomic_paths_write_a_group_whole_or_not_at_all(tmp_path):
    targets = [tmp_path / "a.dcm", tmp_path / "b.dcm"]
    with pytest.raises(RuntimeError), atomic_paths(targets) as temporaries:
        temporaries[0].write_text("a")
        raise RuntimeError("second writer failed")
    assert list(tmp_path.iterdir()) == []
    with atomic_paths(targets) as temporaries:
        for tmp, text in zip(temporaries, "ab", strict=True):
            tmp.write_text(text)
    assert [t.read_text() for t in targets] == ["a", "b"]
    with pytest.raises(ValueError, match="twice"), atomic_paths([targets[0], targets[0]]):
        pass


def test_atomic_paths_remove_renamed_targets_when_a_rename_fails(tmp_path):
    blocker = tmp_path / "dir.dcm"
    targets = [tmp_path / "a.dcm", blocker]
    with pytest.raises(OSError), atomic_paths(targets) as temporaries:
        temporaries[0].write_text("a")
        blocker.mkdir()
        (blocker / "keep").write_text("x")  # a non-empty folder cannot be replaced by a file
    assert not targets[0].exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.dcm"]
