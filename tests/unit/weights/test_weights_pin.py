"""``mhub weights pin`` and ``--trust-unpinned``, against archives in the runners' real layouts.

The archives are served by a loopback HTTP server started by the test (``http_root``).
"""

from __future__ import annotations

import json
import logging
import tomllib
from pathlib import Path

import pytest

from mhubio.cli import main
from mhubio.core.errors import ConfigError, WeightsError
from mhubio.core.exitcodes import ExitCode
from mhubio.core.module import ModelInfo, RunContext
from mhubio.core.report import RunReport
from mhubio.weights import (
    WeightsLayout,
    fetch,
    load_manifest,
    missing_paths,
    parse_manifest,
    read_stamp,
    require_weights,
    verify,
)
from mhubio.weights.pin import PinOutcome, pin
from tests.unit.weights.test_weights import http_root, make_tar, make_zip, sha256  # noqa: F401 (http_root: fixture)

V1_MODEL = "nnUNet/3d_fullres/Task055_SegTHOR/nnUNetTrainerV2__nnUNetPlansv2.1"
V1 = {
    f"{V1_MODEL}/plans.pkl": b"plans",
    f"{V1_MODEL}/fold_0/model_final_checkpoint.model": b"weights" * 50,
    f"{V1_MODEL}/fold_0/model_final_checkpoint.model.pkl": b"info",
    f"{V1_MODEL}/postprocessing.json": b"{}",
}
TS_MODEL = (
    "Dataset297_TotalSegmentator_total_3mm_1559subj/nnUNetTrainer_4000epochs_NoMirroring__nnUNetPlans__3d_fullres"
)
TOTALSEG = {
    f"{TS_MODEL}/dataset.json": b"{}",
    f"{TS_MODEL}/plans.json": b"{}",
    f"{TS_MODEL}/fold_0/checkpoint_final.pth": b"w" * 300,
}
V2 = {
    "Dataset001_Demo/nnUNetTrainer__nnUNetPlans__3d_fullres/dataset.json": b"{}",
    "Dataset001_Demo/nnUNetTrainer__nnUNetPlans__3d_fullres/plans.json": b"{}",
    "Dataset001_Demo/nnUNetTrainer__nnUNetPlans__3d_fullres/fold_all/checkpoint_final.pth": b"w",
}
BPR = {f"public_bpr_model/{name}": b"x" for name in ("model.pt", "config.json", "inference-settings.json")}

MANIFEST = """\
# Toy model: comments and order must survive pinning.
[model]
name = "toy"
version = "1.0.0"

# nnU-Net v1 results folder
[[weights]]
name = "Task055_SegTHOR"
url = "{base}/Task055_SegTHOR.zip"
# filled in by mhub weights pin
sha256 = ""
archive = "zip"
target = "nnunet_v1/Task055_SegTHOR"
layout = "nnunet_v1"

[[weights]]
name = "Dataset297_TotalSegmentator_total_3mm_1559subj"
url = "{base}/Dataset297.zip"
sha256 = ""
archive = "zip"
target = "totalsegmentator/Dataset297_TotalSegmentator_total_3mm_1559subj"
layout = "totalsegmentator"
strip_components = 1  # the archive holds the dataset folder

[[weights]]
name = "public_bpr_model"
url = "{base}/public_bpr_model.tar.gz"
sha256 = ""
archive = "tar.gz"
target = "bpreg"
layout = "bpr"
"""


@pytest.fixture()
def toy(tmp_path, http_root):  # noqa: F811 (pytest fixture imported above)
    """A model folder whose three unpinned entries are served over HTTP in their real layouts."""
    root, base = http_root
    make_zip(root / "Task055_SegTHOR.zip", V1)
    make_zip(root / "Dataset297.zip", TOTALSEG)
    make_tar(root / "public_bpr_model.tar.gz", BPR)
    folder = tmp_path / "models" / "toy"
    folder.mkdir(parents=True)
    (folder / "mhub.toml").write_text(MANIFEST.format(base=base))
    return folder, root


def digest(path: Path) -> str:
    return sha256(path.read_bytes())


def test_pin_writes_sha256_and_size_and_keeps_comments_and_order(toy, tmp_path):
    folder, served = toy
    before = (folder / "mhub.toml").read_text()
    results = pin(load_manifest(folder), work_dir=tmp_path)
    assert [r.outcome for r in results] == [PinOutcome.PINNED] * 3
    after = (folder / "mhub.toml").read_text()
    for line in before.splitlines():
        if not line.startswith("sha256"):
            assert line in after
    assert [line for line in after.splitlines() if line.startswith("#")] == \
        [line for line in before.splitlines() if line.startswith("#")]
    assert after.index("# filled in by mhub weights pin") < after.index("sha256 = \"") \
        < after.index("layout = \"nnunet_v1\"")
    entries = tomllib.loads(after)["weights"]
    archives = ("Task055_SegTHOR.zip", "Dataset297.zip", "public_bpr_model.tar.gz")
    for table, archive in zip(entries, archives, strict=True):
        assert table["sha256"] == digest(served / archive)
        assert table["size"] == (served / archive).stat().st_size
    assert [e.name for e in load_manifest(folder).weights] == [t["name"] for t in entries]
    assert not list(tmp_path.glob("mhub-pin-*"))
    # pinned manifests now install without any flag
    assert len(fetch(load_manifest(folder), tmp_path / "weights")) == 3


def test_pin_again_verifies_and_changes_nothing(toy, tmp_path):
    folder, _ = toy
    pin(load_manifest(folder), work_dir=tmp_path)
    pinned = (folder / "mhub.toml").read_text()
    assert [r.outcome for r in pin(load_manifest(folder), work_dir=tmp_path)] == [PinOutcome.VERIFIED] * 3
    assert (folder / "mhub.toml").read_text() == pinned


def test_pinned_entry_whose_archive_changed_is_refused(toy, tmp_path):
    folder, served = toy
    pin(load_manifest(folder), work_dir=tmp_path)
    pinned = (folder / "mhub.toml").read_text()
    make_zip(served / "Task055_SegTHOR.zip", {**V1, f"{V1_MODEL}/plans.pkl": b"replaced"})
    with pytest.raises(WeightsError, match="Task055_SegTHOR.*(sha256|bytes).*pin was left unchanged"):
        pin(load_manifest(folder), work_dir=tmp_path)
    assert (folder / "mhub.toml").read_text() == pinned


def test_wrong_layout_is_refused_naming_the_missing_path(toy, tmp_path):
    folder, served = toy
    broken = {k: v for k, v in V1.items() if not k.endswith(".model.pkl")}
    make_zip(served / "Task055_SegTHOR.zip", broken)
    (served / "Dataset297.zip").unlink()
    make_zip(served / "Dataset297.zip", {k.split("/", 1)[1]: v for k, v in TOTALSEG.items()})  # one level too shallow
    with pytest.raises(WeightsError) as raised:
        pin(load_manifest(folder), work_dir=tmp_path)
    message = str(raised.value)
    assert f"{V1_MODEL}/fold_0/model_final_checkpoint.model.pkl" in message
    assert "<trainer>__<plans>__<configuration>/" in message and "strip_components" in message
    assert "1 other entries were pinned" in message
    entries = tomllib.loads((folder / "mhub.toml").read_text())["weights"]
    assert [bool(t["sha256"]) for t in entries] == [False, False, True]


@pytest.mark.parametrize(
    ("layout", "members", "missing"),
    [
        (WeightsLayout.NNUNET_V1, {}, "nnUNet/<configuration>/<Task>/<trainer>__<plans>/"),
        (WeightsLayout.NNUNET_V1, {k: v for k, v in V1.items() if "plans.pkl" not in k}, f"{V1_MODEL}/plans.pkl"),
        (WeightsLayout.NNUNET_V2, V2, None),
        (WeightsLayout.NNUNET_V2, {k: v for k, v in V2.items() if "plans" not in k},
         "Dataset001_Demo/nnUNetTrainer__nnUNetPlans__3d_fullres/plans.json"),
        (WeightsLayout.TOTALSEGMENTATOR, {k.split("/", 1)[1]: v for k, v in TOTALSEG.items() if "fold" not in k},
         "fold_<n>/"),
        (WeightsLayout.BPR, {k: v for k, v in BPR.items() if "config" not in k}, "public_bpr_model/config.json"),
        (WeightsLayout.BPR, {k.split("/")[1]: v for k, v in BPR.items()}, None),
    ],
)
def test_layouts(tmp_path, layout, members, missing):
    for name, data in members.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    found = missing_paths(layout, tmp_path)
    assert (found == []) if missing is None else any(missing in m for m in found), found


def test_manifest_validates_the_new_fields():
    base = {"name": "A", "url": "https://x.org/a.zip", "sha256": "", "archive": "zip", "target": "a"}
    with pytest.raises(ConfigError) as raised:
        parse_manifest({"model": {"name": "t", "version": "1"}, "weights": [
            {**base, "layout": "nnunet_v3"}, {**base, "name": "B", "target": "b", "size": -1},
            {**base, "name": "C", "target": "c", "trusted_unpinned": True}]})
    text = str(raised.value)
    assert "layout: one of nnunet_v1" in text and "size: a non-negative integer" in text
    assert "trusted_unpinned: needs the observed sha256" in text


def test_cli_pin_all_and_exit_code(toy, tmp_path, monkeypatch, capsys):
    folder, served = toy
    monkeypatch.setenv("MHUB_MODELS_DIR", str(folder.parent))
    (folder / "config").mkdir()
    (folder / "config" / "default.yml").write_text("general: {model: toy, version: '1.0.0'}\nexecute: []\n")
    assert main(["weights", "pin", "--all", "--work-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"toy/Task055_SegTHOR: pinned sha256 {digest(served / 'Task055_SegTHOR.zip')}" in out
    make_tar(served / "public_bpr_model.tar.gz", {"model.pt": b"changed"})
    assert main(["weights", "pin", "toy", "--work-dir", str(tmp_path)]) == ExitCode.WEIGHTS_ERROR


# ---------------------------------------------------------------- --trust-unpinned


def _context(tmp_path: Path, folder: Path, root: Path) -> RunContext:
    return RunContext(tmp_path, tmp_path, tmp_path, ModelInfo("toy", "1.0.0", folder), weights_dir=root)


def test_trust_unpinned_warns_records_and_detects_tampering(toy, tmp_path, caplog, capsys):
    folder, served = toy
    root = tmp_path / "weights"
    manifest = load_manifest(folder)
    with pytest.raises(WeightsError, match="no sha256 recorded"):
        fetch(manifest, root, entries=["public_bpr_model"])
    assert main(["weights", "fetch", str(folder), "--weights-dir", str(root), "--entry", "public_bpr_model",
                 "--trust-unpinned"]) == 0
    captured = capsys.readouterr()
    observed = digest(served / "public_bpr_model.tar.gz")
    assert "--trust-unpinned" in captured.err
    assert "NOT PINNED" in captured.out and observed in captured.out
    assert "WARNING: weights public_bpr_model are NOT pinned" in caplog.text
    stamp = read_stamp(root / "bpreg")
    assert (stamp.archive_sha256, stamp.trusted_unpinned) == (observed, True)
    assert json.loads((root / "bpreg" / ".mhub-weights.json").read_text())["trusted_unpinned"] is True

    # run time: accepted with a warning, and the run report names the observed sha256
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mhub.weights"):
        assert require_weights(_context(tmp_path, folder, root), folder, "public_bpr_model").archive_sha256 == observed
    assert "not pinned" in caplog.text
    report = RunReport(ModelInfo("toy", "1.0.0"), "default").to_dict()
    assert report["unpinned_weights"] == [{"entry": "public_bpr_model", "archive_sha256": observed,
                                          "url": manifest.entry("public_bpr_model").url}]
    problems = verify(manifest, root)
    assert len(problems) == 2 and not any("public_bpr_model" in p for p in problems)  # the two not installed

    assert main(["weights", "list", str(folder), "--weights-dir", str(root)]) == 0
    states = {line.split()[0]: line.split()[1] for line in capsys.readouterr().out.splitlines()}
    assert states["public_bpr_model"] == "trusted" and states["Task055_SegTHOR"] == "no"

    # tampering with an installed file is found by verify
    (root / "bpreg" / "public_bpr_model" / "model.pt").write_bytes(b"tampered")
    assert any("model.pt has sha256" in p for p in verify(manifest, root))

    # a changed archive is refused at the next fetch, and the installed files stay
    make_tar(served / "public_bpr_model.tar.gz", {**BPR, "public_bpr_model/model.pt": b"other"})
    with pytest.raises(WeightsError, match=f"now serves an archive.*{observed} was trusted"):
        fetch(manifest, root, entries=["public_bpr_model"], force=True, trust_unpinned=True)
    assert read_stamp(root / "bpreg").archive_sha256 == observed


def test_without_the_flag_nothing_changes(toy, tmp_path):
    folder, _ = toy
    root = tmp_path / "weights"
    with pytest.raises(WeightsError, match="no sha256 recorded"):
        fetch(load_manifest(folder), root)
    assert not root.exists() or not any(root.iterdir())
    with pytest.raises(WeightsError, match="no sha256 is recorded.*--trust-unpinned"):
        require_weights(_context(tmp_path, folder, root), folder, "Task055_SegTHOR")


def test_trust_unpinned_still_checks_the_layout(toy, tmp_path):
    folder, served = toy
    make_zip(served / "Task055_SegTHOR.zip", {"weights.bin": b"x"})
    with pytest.raises(WeightsError, match="nnunet_v1 layout.*nnUNet/<configuration>"):
        fetch(load_manifest(folder), tmp_path / "weights", entries=["Task055_SegTHOR"], trust_unpinned=True)
    assert not (tmp_path / "weights" / "nnunet_v1").exists()
