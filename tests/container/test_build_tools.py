"""Image build helpers that need no Docker daemon: names, model folders, contexts, commands, wheels."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

import pytest

from mhubio.containers import DockerError, ModelSource, build_model, hardened_run_args
from mhubio.containers.build import _latest, check_buildable
from mhubio.containers.changes import affected_models, image_models
from mhubio.containers.context import add_tree
from mhubio.containers.docker import docker_cli, run_tool
from mhubio.containers.images import check_model_name, model_image_tag
from mhubio.containers.rootfs import _debootstrap
from mhubio.containers.wheelhouse import build_project_wheel, project_requirements
from mhubio.core.errors import ConfigError
from mhubio.core.exitcodes import ExitCode

from .conftest import REPO


def _model(models: Path, name: str, manifest: str) -> Path:
    folder = models / name
    (folder / "config").mkdir(parents=True)
    (folder / "mhub.toml").write_text(manifest)
    return folder


def test_hardened_run_args_follow_the_container_contract(tmp_path: Path):
    args = hardened_run_args(
        "mhub/x:1", tmp_path / "in", tmp_path / "out", user=(1234, 99), workflow="fast", args=("--quiet",)
    )
    image = args.index("mhub/x:1")
    options, command = args[:image], args[image + 1:]
    for flag in (["--network", "none"], ["--read-only"], ["--tmpfs", "/tmp"], ["--user", "1234:99"],
                 ["--cap-drop", "ALL"], ["--security-opt", "no-new-privileges"]):
        assert any(options[i:i + len(flag)] == flag for i in range(len(options))), flag
    assert f"{tmp_path / 'in'}:/app/data/input_data:ro" in options
    assert f"{tmp_path / 'out'}:/app/data/output_data" in options
    assert "--gpus" not in options
    assert command == ["--workflow", "fast", "--quiet"]
    assert "--gpus" in hardened_run_args("i", tmp_path, tmp_path, gpus=True)


@pytest.mark.parametrize("name", ["base", "_template", "Upper", "with space", ""])
def test_invalid_model_names_are_rejected(name: str):
    with pytest.raises(ValueError, match="model name"):
        check_model_name(name)


def test_image_tags():
    assert model_image_tag("thresholder", "1.0.0") == "mhub/thresholder:1.0.0"
    assert _latest("mhub/base:0.1.0") == "mhub/base:latest"
    assert _latest("localhost:5000/mhub/x:2") == "localhost:5000/mhub/x:latest"
    assert _latest("localhost:5000/mhub/x") == "localhost:5000/mhub/x:latest"


SHA = "ab" * 32


def _manifest(name: str, weights: bool = False) -> str:
    text = f'[model]\nname = "{name}"\nversion = "2.1"\n'
    if weights:
        text += (
            '[[weights]]\nname = "w"\nurl = "https://example.org/w.zip"\n'
            f'sha256 = "{SHA}"\narchive = "zip"\ntarget = "{name}"\n'
        )
    return text


def test_model_source_reads_version_and_weights(tmp_path: Path):
    _model(tmp_path, "m", _manifest("m", weights=True))
    model = ModelSource.load(tmp_path, "m")
    assert (model.name, model.version) == ("m", "2.1")
    assert model.weight_labels() == [{"name": "w", "sha256": SHA, "url": "https://example.org/w.zip"}]
    assert model.requirements is None
    (tmp_path / "m" / "requirements.txt").write_text("six==1.16.0\n")
    assert ModelSource.load(tmp_path, "m").requirements == tmp_path / "m" / "requirements.txt"


def test_repository_models_load():
    model = ModelSource.load(REPO / "models", "thresholder")
    assert model.manifest.weights == ()
    assert model.system_dockerfile is None
    assert (REPO / "base" / "Dockerfile.model").is_file()



@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ("[model]\n", "model.name"),
        ("[model\n", "not valid TOML"),
        (_manifest("other"), "differs from the folder name"),
    ],
)
def test_model_source_names_manifest_problems(tmp_path: Path, manifest: str, message: str):
    _model(tmp_path, "m", manifest)
    with pytest.raises(ConfigError, match=message):
        ModelSource.load(tmp_path, "m")


def test_model_source_needs_manifest_and_image_name(tmp_path: Path):
    folder = _model(tmp_path, "m", _manifest("m"))
    assert ModelSource.load(tmp_path, "m").system_dockerfile is None
    (folder / "Dockerfile").write_text("ARG MHUB_BASE_IMAGE\nFROM ${MHUB_BASE_IMAGE}\n")
    assert ModelSource.load(tmp_path, "m").system_dockerfile == folder / "Dockerfile"
    (folder / "mhub.toml").unlink()
    with pytest.raises(ConfigError, match="has no mhub.toml"):
        ModelSource.load(tmp_path, "m")
    with pytest.raises(ConfigError, match="no folder"):
        ModelSource.load(tmp_path, "nothere")
    with pytest.raises(ConfigError, match="reserved"):
        ModelSource.load(tmp_path, "base")


def test_offline_build_of_model_with_weights_needs_a_weights_folder(tmp_path: Path):
    _model(tmp_path / "models", "m", _manifest("m", weights=True))
    with pytest.raises(ConfigError, match="weights_dir"):
        build_model("m", tmp_path, offline=True)
    with pytest.raises(ConfigError, match="does not exist"):
        check_buildable("m", tmp_path, offline=True, weights_dir=tmp_path / "nowhere")
    assert check_buildable("m", tmp_path, offline=False, weights_dir=None).name == "m"


def test_copied_trees_are_readable_by_everyone(tmp_path: Path):
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "f.txt").write_text("x")
    (source / "sub" / "f.txt").chmod(0o600)
    (source / "sub").chmod(0o700)
    (source / "__pycache__").mkdir()
    copy = add_tree(tmp_path / "ctx", source, "models/m")
    assert (copy / "sub" / "f.txt").stat().st_mode & 0o444 == 0o444
    assert (copy / "sub").stat().st_mode & 0o555 == 0o555
    assert not (copy / "__pycache__").exists()
    linked = add_tree(tmp_path / "ctx", source, "weights", link=True)
    assert (linked / "sub" / "f.txt").stat().st_ino == (source / "sub" / "f.txt").stat().st_ino


def test_run_tool_checks_exit_status_and_times():
    ok = run_tool([sys.executable, "-c", "print('hi')"])
    assert ok.stdout.strip() == "hi" and ok.seconds > 0
    with pytest.raises(DockerError, match="exit status 3"):
        run_tool([sys.executable, "-c", "import sys; sys.exit(3)"])
    assert run_tool([sys.executable, "-c", "import sys; sys.exit(3)"], check=False).returncode == 3
    with pytest.raises(DockerError, match="cannot run"):
        run_tool(["/nonexistent/tool"])


def test_docker_client_can_be_chosen(monkeypatch: pytest.MonkeyPatch):
    docker_cli.cache_clear()
    monkeypatch.setenv("MHUB_DOCKER", "/opt/docker/bin/docker")
    try:
        assert docker_cli() == "/opt/docker/bin/docker"
    finally:
        docker_cli.cache_clear()


def test_project_requirements_are_the_pyproject_dependencies():
    requirements = project_requirements(REPO)
    assert any(r.startswith("highdicom") for r in requirements)
    assert not any(r.startswith("distributed") for r in requirements)
    with_dask = project_requirements(REPO, ["dask"])
    assert set(requirements) < set(with_dask) and any(r.startswith("distributed") for r in with_dask)
    with pytest.raises(DockerError, match="no extra 'nope'"):
        project_requirements(REPO, ["nope"])
    with pytest.raises(DockerError, match="pyproject.toml not found"):
        project_requirements(REPO / "models")


@pytest.mark.slow
def test_project_wheel_is_reproducible_and_leaves_the_checkout_alone(tmp_path: Path):
    before = sorted(p.name for p in REPO.iterdir())
    first = build_project_wheel(REPO, tmp_path / "a")
    second = build_project_wheel(REPO, tmp_path / "b")
    assert first.name.startswith("mhubio-")
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (first, second)]
    assert digest[0] == digest[1]
    assert sorted(p.name for p in REPO.iterdir()) == before


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        (["models/b/config/default.yml", "README.md"], ["b"]),
        (["models/a/Dockerfile", "models/b/mhub.toml", "tests/unit/x.py"], ["a", "b"]),
        (["models/_template/Dockerfile", "models/gone/Dockerfile"], []),
        (["base/Dockerfile"], ["a", "b"]),
        (["mhubio/core/runner.py", "models/a/x"], ["a", "b"]),
        (["constraints.txt"], ["a", "b"]),
        (["docs/index.md"], []),
    ],
)
def test_affected_models(changed: list[str], expected: list[str]):
    assert affected_models(changed, ["a", "b"]) == expected


def test_image_models_are_folders_with_a_manifest(tmp_path: Path):
    _model(tmp_path / "models", "a", "")
    _model(tmp_path / "models", "_template", "")
    (tmp_path / "models" / "no_image").mkdir()
    assert image_models(tmp_path) == ["a"]
    assert "thresholder" in image_models(REPO)


def test_build_command_rejects_bad_models_before_building(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from mhubio.cli import main

    _model(tmp_path / "models", "m", _manifest("m", weights=True))
    assert main(["build", "nosuchmodel", "--repo", str(tmp_path)]) == ExitCode.CONFIG_ERROR
    assert "nosuchmodel" in capsys.readouterr().err
    assert main(["build", "m", "--offline", "--repo", str(tmp_path)]) == ExitCode.CONFIG_ERROR
    assert "--weights-from" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("debootstrap") is None, reason="debootstrap needs root")
def test_debootstrap_is_tried_twice_then_fails(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    unreachable_mirror = "http://127.0.0.1:9/debian"
    (tmp_path / "debs").mkdir()
    with pytest.raises(DockerError, match="debootstrap"):
        _debootstrap(tmp_path / "rootfs", "bookworm", unreachable_mirror, ("python3",), tmp_path / "debs")
    assert "trying once more" in caplog.text


def test_model_images_use_the_shared_dockerfile_after_the_system_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from mhubio.containers import build as build_module

    builds: list[dict] = []

    def record(context: Path, tags, *, build_args, labels, stream) -> None:
        builds.append({
            "tags": list(tags), "args": dict(build_args), "labels": dict(labels),
            "dockerfile": (context / "Dockerfile").read_text(),
            "files": sorted(str(p.relative_to(context)) for p in context.rglob("*") if p.is_file()),
        })

    monkeypatch.setattr(build_module, "_docker_build", record)
    monkeypatch.setattr(build_module, "make_wheelhouse", lambda *a, **k: tmp_path / "no-wheels")
    monkeypatch.setattr(build_module, "project_requirements", lambda *a, **k: [])
    monkeypatch.setattr(build_module, "image_size", lambda tag: 1)
    monkeypatch.setenv("MHUB_CACHE_DIR", str(tmp_path / "cache"))
    shutil.copytree(REPO / "base", tmp_path / "base")
    folder = _model(tmp_path / "models", "m", _manifest("m"))
    (folder / "config" / "default.yml").write_text("execute: [DicomImporter]\n")

    build_model("m", tmp_path, base_image="mhub/base:x", offline=False)
    (shared,) = builds
    assert shared["dockerfile"] == (REPO / "base" / "Dockerfile.model").read_text()
    assert shared["args"]["MHUB_MODEL"] == "m" and shared["args"]["MHUB_BASE_IMAGE"] == "mhub/base:x"
    assert shared["files"] == ["Dockerfile", "model/config/default.yml", "model/mhub.toml", "requirements.txt"]
    assert (shared["labels"]["org.mhub.model"], shared["labels"]["org.opencontainers.image.version"]) == ("m", "2.1")
    assert shared["tags"] == ["mhub/m:2.1", "mhub/m:latest"]

    builds.clear()
    (folder / "Dockerfile").write_text("ARG MHUB_BASE_IMAGE\nFROM ${MHUB_BASE_IMAGE}\nRUN true\n")
    build_model("m", tmp_path, base_image="mhub/base:x", offline=False)
    system, shared = builds
    assert system["dockerfile"].endswith("RUN true\n") and system["args"] == {"MHUB_BASE_IMAGE": "mhub/base:x"}
    assert system["tags"] == ["mhub/m:2.1-system"]
    assert shared["args"]["MHUB_BASE_IMAGE"] == "mhub/m:2.1-system"
    assert shared["labels"]["org.mhub.base-image"] == "mhub/base:x"


@pytest.mark.container
def test_a_root_file_system_is_imported_as_an_image(docker_daemon: None, tmp_path: Path):
    from mhubio.containers import docker, image_labels
    from mhubio.containers.rootfs import _import_rootfs

    from .conftest import TEST_TAG

    rootfs = tmp_path / "rootfs"
    (rootfs / "etc").mkdir(parents=True)
    (rootfs / "etc" / "os-release").write_text("ID=test\n")
    tag = f"mhub-test/rootfs:{TEST_TAG}"
    _import_rootfs(rootfs, tag, "bookworm")
    try:
        assert image_labels(tag)["org.mhub.os"] == "debian-bookworm-minbase"
        assert not (tmp_path / "rootfs.tar").exists()
    finally:
        docker("image", "rm", tag, check=False)


@pytest.mark.container
@pytest.mark.slow
def test_a_failed_build_step_exits_with_build_failed(base_image, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from mhubio.cli import main

    for name in ("pyproject.toml", "constraints.txt"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "base", tmp_path / "base")
    folder = _model(tmp_path / "models", "m", _manifest("m"))
    (folder / "Dockerfile").write_text(
        "ARG MHUB_BASE_IMAGE\nFROM ${MHUB_BASE_IMAGE}\nRUN echo system step failed && false\n"
    )
    code = main(["build", "m", "--repo", str(tmp_path), "--base-image", base_image.tag, "--offline", "--quiet"])
    assert code == ExitCode.BUILD_FAILED
    assert "system step failed" in capsys.readouterr().err
