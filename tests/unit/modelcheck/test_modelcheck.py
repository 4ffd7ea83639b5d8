"""Contributor checks: every model in the repo passes; broken fixtures fail."""

from __future__ import annotations

import json
import shutil

import pytest

from mhubio.core.config import list_models, models_root
from mhubio.core.errors import ConfigError
from mhubio.modelcheck import check_dockerfile, check_model, new_model


@pytest.mark.parametrize("name", list_models())
def test_every_model_passes(name):
    problems = [p for f in check_model(models_root() / name) for p in f.problems]
    assert problems == []


@pytest.fixture()
def broken(tmp_path):
    target = tmp_path / "thresholder"
    shutil.copytree(models_root() / "thresholder", target)
    return target


def _failed(model_dir):
    return {f.check: f.problems for f in check_model(model_dir) if not f.passed}


def test_missing_meta_field(broken):
    card = json.loads((broken / "meta.json").read_text())
    del card["info"]["limitations"]
    (broken / "meta.json").write_text(json.dumps(card))
    failed = _failed(broken)
    assert list(failed) == ["meta.json"]
    assert "'limitations' is a required property" in failed["meta.json"][0]


def test_unknown_output_class(broken):
    card = json.loads((broken / "meta.json").read_text())
    card["summary"]["outputs"][0]["classes"].append("LUNGS")
    (broken / "meta.json").write_text(json.dumps(card))
    assert "output class 'LUNGS' is not a segment id" in _failed(broken)["meta.json"][0]


def test_bad_workflow(broken):
    path = broken / "config" / "default.yml"
    path.write_text(path.read_text().replace("- Thresholder", "- Thresholder: {bone_hu: high}"))
    failed = _failed(broken)
    assert list(failed) == ["workflow default"]
    assert "bone_hu" in failed["workflow default"][0]


def test_dockerfile_that_downloads_at_run_time(broken):
    dockerfile = broken / "Dockerfile"
    dockerfile.write_text("ARG MHUB_BASE_IMAGE\nFROM ${MHUB_BASE_IMAGE}\nUSER root\nRUN apt-get install -y libgl1\n")
    assert _failed(broken) == {}
    dockerfile.write_text(dockerfile.read_text() + 'CMD ["sh", "-c", "wget https://example.org/w.zip && mhub run"]\n')
    problems = _failed(broken)["Dockerfile (system steps)"]
    assert any("overrides the base image's mhub entry point" in p for p in problems)
    assert any("downloads outside `mhub weights fetch`" in p for p in problems)


@pytest.mark.parametrize(
    "text, message",
    [
        ("FROM python:3.11\nENV MHUB_MODEL=x\n", "first FROM must be ${MHUB_BASE_IMAGE}"),
        ("FROM ${MHUB_BASE_IMAGE}\n", "declare ARG MHUB_BASE_IMAGE"),
        (
            "ARG MHUB_BASE_IMAGE\nFROM ${MHUB_BASE_IMAGE}\nENV MHUB_MODEL=x\nRUN curl -LO \\\n  https://e.org/w\n",
            "downloads",
        ),
        ("ARG MHUB_BASE_IMAGE\nFROM ${MHUB_BASE_IMAGE}\nENV MHUB_MODEL=x\nADD https://e.org/w /w\n", "downloads"),
    ],
)
def test_dockerfile_rules(tmp_path, text, message):
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    assert any(message in p for p in check_dockerfile(path))


def test_new_model_scaffold(tmp_path):
    shutil.copytree(models_root() / "_template", tmp_path / "_template")
    target = new_model("my_model", tmp_path)
    assert "MODEL_NAME" not in (target / "mhub.toml").read_text()
    assert not (target / "Dockerfile").exists()  # the shared base/Dockerfile.model builds it
    assert json.loads((target / "meta.json").read_text())["id"] == "my_model"
    assert not all(f.passed for f in check_model(target))  # a fresh scaffold still needs filling in
    with pytest.raises(ConfigError, match="already exists"):
        new_model("my_model", tmp_path)
    with pytest.raises(ConfigError, match="lower case"):
        new_model("My-Model", tmp_path)


def test_a_version_differing_between_files_is_rejected_naming_them(broken):
    card = json.loads((broken / "meta.json").read_text())
    card["details"]["version"] = "1.0.1"
    (broken / "meta.json").write_text(json.dumps(card))
    failed = _failed(broken)
    assert list(failed) == ["model identity"]
    (problem,) = failed["model identity"]
    assert str(broken / "meta.json") in problem and str(broken / "mhub.toml") in problem
    assert "'1.0.1'" in problem and "'1.0.0'" in problem


def test_a_workflow_stating_another_name_or_version_is_rejected_naming_the_files(broken):
    workflow = broken / "config" / "labelmap.yml"
    stated = "general:\n  model: thresholder2\n  version: '2.0'\n"
    workflow.write_text(workflow.read_text().replace("general:\n", stated))
    failed = _failed(broken)
    assert list(failed) == ["workflow labelmap"]
    problems = failed["workflow labelmap"]
    assert any("general.model is 'thresholder2'" in p and str(broken / "mhub.toml") in p for p in problems)
    assert any("general.version is '2.0'" in p and str(workflow) in p for p in problems)


def test_a_manifest_version_differing_from_the_card_is_rejected(broken):
    manifest = broken / "mhub.toml"
    manifest.write_text(manifest.read_text().replace('version = "1.0.0"', 'version = "1.2.0"'))
    failed = _failed(broken)
    assert list(failed) == ["model identity"]
    assert "details.version is '1.0.0'" in failed["model identity"][0]


def test_workflows_take_the_identity_from_the_manifest():
    from mhubio.core.config import load_config

    general = load_config(models_root() / "nnunet_segthor" / "config" / "fast.yml").general
    assert (general.model, general.version) == ("nnunet_segthor", "1.0.0")
    assert all("version:" not in p.read_text() for p in models_root().glob("*/config/*.yml"))


@pytest.mark.parametrize(
    ("manifest", "message"),
    [('[model]\nname = "m"\n', "model.version must be a non-empty string"),
     ("[weights]\n", r"a \[model\] table"), ("[model\n", "cannot read")],
)
def test_an_unreadable_identity_is_a_config_error(tmp_path, manifest, message):
    from mhubio.core.identity import read_identity

    (tmp_path / "mhub.toml").write_text(manifest)
    with pytest.raises(ConfigError, match=message):
        read_identity(tmp_path)
    assert read_identity(tmp_path / "elsewhere") is None
