"""Atomic writes: a target is written whole or not at all, alone or as a group."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mhubio.core.fileio import atomic_path, atomic_paths, remove_stale_temporaries


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


def test_stale_temporaries_of_a_killed_writer_are_removed_and_live_ones_kept(tmp_path):
    """A killed process's temporaries go (its lock died with it); a writer's open temporary and other files stay."""
    nested = tmp_path / "a" / "b"
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from mhubio.core.fileio import atomic_path\n"
        "with atomic_path(Path(sys.argv[1]) / 'seg.dcm') as tmp:\n"
        "    tmp.write_bytes(b'half')\n"
        "    os._exit(9)\n"
    )
    killed = subprocess.run([sys.executable, "-c", script, str(nested)], check=False)
    assert killed.returncode == 9
    (stale,) = nested.glob(".tmp-*")
    keep = [tmp_path / ".tmp-notours-seg.dcm", tmp_path / "result.dcm", tmp_path / ".tmp-0123456789abcdef-"]
    for path in keep:
        path.write_bytes(b"x")
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.write_bytes(b"x")
    (tmp_path / ".tmp-0123456789abcdef-link").symlink_to(outside)
    with atomic_path(tmp_path / "live.json") as live:
        assert remove_stale_temporaries(tmp_path) == 1
        assert live.exists()
    assert not stale.exists()
    assert all(path.exists() for path in keep) and outside.exists()
    assert (tmp_path / "live.json").exists()
