"""The GPU image variant without building it: build arguments, tags, labels, constraints and wheel selection.

``docker`` and the wheelhouse filling are replaced by recorders; everything else (staging of the build
context, tags, labels, the ``mhub build`` command line) runs as in a real build.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tomllib
from pathlib import Path

import pytest

import mhubio
from mhubio.cli import main
from mhubio.containers import build as build_module
from mhubio.containers.docker import DockerError
from mhubio.containers.variant import ImageVariant, check_variant_wheels, torch_wheels
from mhubio.core.errors import WeightsError
from mhubio.weights import fetch, load_manifest, read_stamp
from tests.unit.weights.test_weights import http_root, make_zip, sha256  # noqa: F401 (http_root: fixture)
from tests.unit.weights.test_weights_pin import BPR

REPO = Path(__file__).resolve().parents[3]
CUDA_WHEELS = ("torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64.whl",
               "nvidia_cudnn_cu13-9.20.0.48-py3-none-manylinux_2_27_x86_64.whl")
CPU_WHEELS = ("torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl",)


def _wheelhouse(folder: Path, names: tuple[str, ...]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in (*names, "six-1.16.0-py2.py3-none-any.whl"):
        (folder / name).write_bytes(b"wheel")
    return folder


class Recorder:
    """Stands in for ``docker build`` and pip: records what a build would run and stage."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, wheel_names: dict[str, tuple[str, ...]]) -> None:
        self.builds: list[dict] = []
        self.wheelhouses: list[tuple[Path, Path]] = []
        self.wheel_names = wheel_names
        monkeypatch.setattr(build_module, "docker", self.docker)
        monkeypatch.setattr(build_module, "image_size", lambda tag: 1)
        monkeypatch.setattr(build_module, "make_wheelhouse", self.make_wheelhouse)
        monkeypatch.setattr(build_module, "build_project_wheel", self.project_wheel)

    def make_wheelhouse(self, dest, *, constraints, **_):
        self.wheelhouses.append((dest, constraints))
        variant = "gpu" if dest.name.endswith("-gpu") else "cpu"
        return _wheelhouse(dest, self.wheel_names[variant])

    @staticmethod
    def project_wheel(project_dir, dest, **_):
        dest.mkdir(parents=True, exist_ok=True)
        (dest / "mhubio-0.1.0-py3-none-any.whl").write_bytes(b"w")

    def docker(self, *args, capture, timeout):
        context = Path(args[-1])
        options = list(args[1:-1])
        pairs = [(options[i], options[i + 1]) for i in range(len(options) - 1) if options[i].startswith("--")]
        staged = {p.relative_to(context).as_posix(): p for p in context.rglob("*") if p.is_file()}
        self.builds.append({
            "tags": [v for k, v in pairs if k == "--tag"],
            "args": dict(v.split("=", 1) for k, v in pairs if k == "--build-arg"),
            "labels": dict(v.split("=", 1) for k, v in pairs if k == "--label"),
            "wheels": sorted(Path(n).name for n in staged if n.startswith("wheels/")),
            "constraints": staged["constraints.txt"].read_text() if "constraints.txt" in staged else None,
            "manifests": {n: p.read_text() for n, p in staged.items() if n.endswith("mhub.toml")},
            "files": sorted(staged),
        })


@pytest.fixture()
def recorder(monkeypatch, tmp_path):
    monkeypatch.setenv("MHUB_CACHE_DIR", str(tmp_path / "cache"))
    return Recorder(monkeypatch, {"cpu": CPU_WHEELS, "gpu": CUDA_WHEELS})


def test_gpu_build_arguments_tags_labels_and_wheels(recorder, tmp_path, capsys):
    assert main(["build", "thresholder", "--gpu", "--repo", str(REPO), "--base-image", "debian:bookworm-slim",
                 "--quiet"]) == 0
    (model,) = recorder.builds
    version = load_manifest(REPO / "models" / "thresholder").model.version
    assert model["tags"] == [f"mhub/thresholder:{version}-gpu", "mhub/thresholder:latest-gpu"]
    assert model["labels"]["org.mhub.variant"] == "gpu"
    assert set(CUDA_WHEELS) <= set(model["wheels"]) and not set(CPU_WHEELS) & set(model["wheels"])
    ((house, constraints),) = recorder.wheelhouses
    assert house == tmp_path / "cache" / "wheelhouse-gpu"
    assert constraints == REPO / "constraints-gpu.txt"

    recorder.builds.clear()
    build_module.build_base(REPO, variant=ImageVariant.GPU)
    (base,) = recorder.builds
    assert base["tags"] == [f"mhub/base:{mhubio.__version__}-gpu", "mhub/base:latest-gpu"]
    assert base["args"]["MHUB_VARIANT"] == "gpu" and base["labels"]["org.mhub.variant"] == "gpu"
    assert base["constraints"] == (REPO / "constraints-gpu.txt").read_text()
    assert "mhubio-0.1.0-py3-none-any.whl" in base["wheels"]


def test_cpu_build_keeps_its_tags_wheelhouse_and_constraints(recorder, tmp_path):
    build_module.build_base(REPO)
    build_module.build_model("thresholder", REPO, base_image="mhub/base:x")
    base, model = recorder.builds
    assert base["tags"] == [f"mhub/base:{mhubio.__version__}", "mhub/base:latest"]
    assert base["args"]["MHUB_VARIANT"] == "cpu" and model["labels"]["org.mhub.variant"] == "cpu"
    assert base["constraints"] == (REPO / "constraints.txt").read_text()
    assert model["args"]["MHUB_BASE_IMAGE"] == "mhub/base:x"
    assert {h for h, _ in recorder.wheelhouses} == {tmp_path / "cache" / "wheelhouse"}


def test_gpu_model_defaults_to_the_gpu_base(recorder):
    build_module.build_model("thresholder", REPO, variant=ImageVariant.GPU)
    assert recorder.builds[0]["args"]["MHUB_BASE_IMAGE"] == f"mhub/base:{mhubio.__version__}-gpu"


def test_gpu_build_refuses_a_cpu_torch_wheelhouse(monkeypatch, tmp_path):
    monkeypatch.setenv("MHUB_CACHE_DIR", str(tmp_path / "cache"))
    recorder = Recorder(monkeypatch, {"cpu": CPU_WHEELS, "gpu": CPU_WHEELS})
    with pytest.raises(DockerError, match=r"CPU-only torch wheel.*torch-2\.13\.0\+cpu"):
        build_module.build_model("thresholder", REPO, variant=ImageVariant.GPU)
    assert recorder.builds == []


@pytest.mark.parametrize(
    ("names", "variant", "error"),
    [
        (CUDA_WHEELS, ImageVariant.GPU, None),
        ((), ImageVariant.GPU, None),
        (CPU_WHEELS, ImageVariant.GPU, "CPU-only"),
        (CUDA_WHEELS[:1], ImageVariant.GPU, "no nvidia-"),
        (CPU_WHEELS, ImageVariant.CPU, None),
    ],
)
def test_wheel_selection(tmp_path, names, variant, error):
    house = _wheelhouse(tmp_path / "w", names)
    if error is None:
        check_variant_wheels(house, variant)
    else:
        with pytest.raises(DockerError, match=error):
            check_variant_wheels(house, variant)
    assert [v for _, v in torch_wheels(house)] == [re.match(r"torch-([^-]+)-", n)[1] for n in names
                                                  if n.startswith("torch-")]


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = re.split(r"===?", line, maxsplit=1)
            pins[name.strip().lower()] = version.strip()
    return pins


def test_gpu_constraints_pin_the_same_versions_with_exact_torch():
    assert _pins(REPO / "constraints-gpu.txt") == _pins(REPO / "constraints.txt")
    assert re.search(r"^torch===", (REPO / "constraints-gpu.txt").read_text(), re.MULTILINE)
    assert "torch===" not in (REPO / "constraints.txt").read_text()


def test_base_dockerfile_declares_variant_argument_and_label():
    text = (REPO / "base" / "Dockerfile").read_text()
    assert "ARG MHUB_VARIANT=cpu" in text
    assert "LABEL org.mhub.variant=${MHUB_VARIANT}" in text and "MHUB_VARIANT=${MHUB_VARIANT}" in text


def test_trust_unpinned_build_stages_the_observed_pin(recorder, tmp_path, http_root, caplog):  # noqa: F811
    served, base = http_root
    make_zip(served / "public_bpr_model.zip", BPR)
    repo = tmp_path / "repo"
    (repo / "models").mkdir(parents=True)
    for name in ("pyproject.toml", "constraints.txt", "constraints-gpu.txt"):
        shutil.copy(REPO / name, repo / name)
    shutil.copytree(REPO / "models" / "bpreg", repo / "models" / "bpreg")
    shutil.copytree(REPO / "base", repo / "base")
    manifest = repo / "models" / "bpreg" / "mhub.toml"
    original = manifest.read_text().replace("https://zenodo.org/record/5113483/files", base)
    manifest.write_text(original)

    build_module.build_model("bpreg", repo, base_image="mhub/base:x", offline=False, trust_unpinned=True)
    (model,) = recorder.builds
    observed = sha256((served / "public_bpr_model.zip").read_bytes())
    assert "NOT pinned" in caplog.text and observed in caplog.text
    assert manifest.read_text() == original  # the checkout is not changed
    staged = model["manifests"]["model/mhub.toml"]
    (entry,) = tomllib.loads(staged)["weights"]
    assert (entry["sha256"], entry["trusted_unpinned"]) == (observed, True)
    assert "# Not yet recorded" in staged  # comments of the staged copy are kept
    assert json.loads(model["labels"]["org.mhub.weights"]) == [
        {"name": "public_bpr_model", "sha256": observed, "url": f"{base}/public_bpr_model.zip",
         "trusted_unpinned": True}]
    assert model["args"]["MHUB_WEIGHTS_FROM"] == "/tmp/weights"
    assert "weights/public_bpr_model.zip" in model["files"]

    # what `mhub weights fetch` does inside that build: verify against the observed sha256, stamp it as trusted
    staged_model = tmp_path / "staged" / "bpreg"
    staged_model.mkdir(parents=True)
    (staged_model / "mhub.toml").write_text(staged)
    (installed,) = fetch(load_manifest(staged_model), tmp_path / "weights",
                         source_dir=tmp_path / "cache" / "archives" / "bpreg")
    assert installed.trusted_unpinned and read_stamp(installed.path).trusted_unpinned
    make_zip(tmp_path / "cache" / "archives" / "bpreg" / "public_bpr_model.zip", {**BPR, "extra": b"x"})
    with pytest.raises(WeightsError, match="archive changed and nothing was installed"):
        fetch(load_manifest(staged_model), tmp_path / "w2", source_dir=tmp_path / "cache" / "archives" / "bpreg")


@pytest.mark.parametrize(
    ("cuda", "variant", "level", "hint"),
    [(None, None, "INFO", "CPU-only build"), ("13.0", "gpu", "WARNING", "--gpus all"), ("13.0", None, "INFO", None)],
)
def test_device_auto_without_cuda_says_why(monkeypatch, caplog, cuda, variant, level, hint):
    torch = pytest.importorskip("torch")
    from mhubio.modules.runners.device import DeviceChoice, select_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", cuda)
    if variant:
        monkeypatch.setenv("MHUB_VARIANT", variant)
    else:
        monkeypatch.delenv("MHUB_VARIANT", raising=False)
    with caplog.at_level(logging.INFO, logger="mhub.runners.device"):
        assert select_device(DeviceChoice.AUTO, "step").type == "cpu"
    (record,) = caplog.records
    assert record.levelname == level
    assert (hint in record.getMessage()) if hint else record.getMessage().endswith("(device: auto)")
