"""Weights manifest, fetch (file://, http://, local folder), safe unpacking and run-time checks."""

from __future__ import annotations

import hashlib
import io
import json
import stat
import tarfile
import textwrap
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mhubio.cli import main
from mhubio.core.errors import ConfigError, WeightsError
from mhubio.core.exitcodes import ExitCode
from mhubio.core.module import ModelInfo, RunContext
from mhubio.weights import (
    STAMP_NAME,
    ArchiveFormat,
    fetch,
    load_manifest,
    parse_manifest,
    read_stamp,
    require_weights,
    verify,
    weights_dir,
)

FILES = {"model/plans.json": b'{"a": 1}\n', "model/fold_0/checkpoint.pth": bytes(range(256)) * 40}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_zip(path: Path, members: dict[str, bytes], symlink: tuple[str, str] | None = None) -> bytes:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink[0])
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, symlink[1])
    return path.read_bytes()


def make_tar(path: Path, members: dict[str, bytes], symlink: tuple[str, str] | None = None) -> bytes:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        if symlink:
            info = tarfile.TarInfo(symlink[0])
            info.type, info.linkname = tarfile.SYMTYPE, symlink[1]
            tf.addfile(info)
    return path.read_bytes()


def write_model(root: Path, name: str, entries: list[dict]) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    text = f'[model]\nname = "{name}"\nversion = "1.0.0"\n'
    for entry in entries:
        text += "\n[[weights]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in entry.items())
    (folder / "mhub.toml").write_text(text)
    return folder


def entry(name: str, url: str, digest: str, archive: str = "zip", target: str | None = None, **extra) -> dict:
    return {"name": name, "url": url, "sha256": digest, "archive": archive, "target": target or f"toy/{name}", **extra}


class _Handler(SimpleHTTPRequestHandler):
    """Static files, plus ``/moved/NAME`` answered with a redirect to ``/NAME`` (as release hosts do)."""

    def do_GET(self):
        if self.path.startswith("/moved/"):
            self.send_response(302)
            self.send_header("Location", self.path.removeprefix("/moved"))
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture()
def http_root(tmp_path):
    """A local HTTP server on a random port serving ``tmp_path/http``."""
    root = tmp_path / "http"
    root.mkdir()
    handler = partial(_Handler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith(".mhub-fetch-")) if root.exists() else []


# ---------------------------------------------------------------- manifest


def test_manifest_parses_all_fields(tmp_path):
    folder = write_model(
        tmp_path, "toy", [entry("A", "https://x.org/a.zip", "0" * 64, strip_components=1, md5="f" * 32)]
    )
    manifest = load_manifest(folder)
    (a,) = manifest.weights
    assert (manifest.model.name, a.archive, str(a.target), a.strip_components) == ("toy", ArchiveFormat.ZIP, "toy/A", 1)
    assert a.archive_name == "a.zip" and a.md5 == "f" * 32
    with pytest.raises(KeyError, match="known: A"):
        manifest.entry("B")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("sha256", "ABC", "sha256: 64 lower-case hex digits"),
        ("url", "ftp://x.org/a.zip", "url: must be an http, https or file URL"),
        ("archive", "rar", "archive: one of zip, tar.gz, file"),
        ("target", "../outside", "target: a relative folder without '..'"),
        ("target", "/abs", "target: a relative folder"),
        ("subdir", "a/../b", "subdir: a relative folder without '..'"),
        ("strip_components", -1, "strip_components: a non-negative integer"),
        ("md5", "xyz", "md5: 32 lower-case hex digits"),
        ("colour", "red", "colour: unknown field"),
    ],
)
def test_manifest_rejects_each_bad_field(field, value, message):
    raw_entry = entry("A", "https://x.org/a.zip", "0" * 64)
    raw_entry[field] = value
    with pytest.raises(ConfigError, match=message):
        parse_manifest({"model": {"name": "toy", "version": "1"}, "weights": [raw_entry]})


def test_manifest_reports_every_problem_and_required_fields():
    raw = {"model": {"name": "toy"}, "weights": [{"name": "A"}], "extra": {}}
    with pytest.raises(ConfigError) as info:
        parse_manifest(raw)
    text = str(info.value)
    for expected in ("model.version: required", "weights[1].url: required", "weights[1].sha256: required",
                     "weights[1].archive: required", "weights[1].target: required", "unknown table 'extra'"):
        assert expected in text


def test_manifest_rejects_duplicates_and_nested_targets():
    model = {"name": "toy", "version": "1"}
    dup = [entry("A", "https://x/a.zip", ""), entry("A", "https://x/b.zip", "", target="other")]
    with pytest.raises(ConfigError, match="'A' is used twice"):
        parse_manifest({"model": model, "weights": dup})
    nested = [entry("A", "https://x/a.zip", "", target="t"), entry("B", "https://x/b.zip", "", target="t/sub")]
    with pytest.raises(ConfigError, match="overlap"):
        parse_manifest({"model": model, "weights": nested})


def test_manifest_name_must_match_folder(tmp_path):
    folder = write_model(tmp_path, "toy", [])
    renamed = folder.rename(tmp_path / "other")
    with pytest.raises(ConfigError, match="differs from the folder name 'other'"):
        load_manifest(renamed)
    with pytest.raises(ConfigError, match="has no mhub.toml"):
        load_manifest(tmp_path)


# ---------------------------------------------------------------- weights_dir


def test_weights_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("MHUB_WEIGHTS_DIR", str(tmp_path / "env"))
    context = RunContext(tmp_path, tmp_path, tmp_path, ModelInfo("toy", "1"), weights_dir=tmp_path / "ctx")
    assert weights_dir(tmp_path / "flag") == tmp_path / "flag"
    assert weights_dir(context) == tmp_path / "ctx"
    assert weights_dir(None) == tmp_path / "env"
    monkeypatch.delenv("MHUB_WEIGHTS_DIR")
    assert weights_dir(None) in (Path("/app/weights"), Path.home() / ".mhub" / "weights")


# ---------------------------------------------------------------- fetch


def test_fetch_file_url_zip_installs_and_stamps(tmp_path):
    data = make_zip(tmp_path / "a.zip", FILES)
    folder = write_model(tmp_path / "models", "toy", [entry("A", (tmp_path / "a.zip").as_uri(), sha256(data))])
    root = tmp_path / "weights"
    (installed,) = fetch(load_manifest(folder), root)
    assert installed.path == root / "toy" / "A"
    assert dict(installed.files) == {k: sha256(v) for k, v in FILES.items()}
    assert (installed.path / "model/fold_0/checkpoint.pth").read_bytes() == FILES["model/fold_0/checkpoint.pth"]
    stamp = read_stamp(installed.path)
    assert (stamp.archive_sha256, stamp.url) == (sha256(data), (tmp_path / "a.zip").as_uri())
    assert verify(load_manifest(folder), root) == []
    assert leftovers(root) == []


def test_fetch_over_http_tar_gz_with_strip_components(tmp_path, http_root):
    served, base = http_root
    data = make_tar(served / "w.tar.gz", {f"top/{k}": v for k, v in FILES.items()})
    folder = write_model(
        tmp_path / "models", "toy", [entry("B", f"{base}/w.tar.gz", sha256(data), "tar.gz", strip_components=1)]
    )
    (installed,) = fetch(load_manifest(folder), tmp_path / "weights")
    assert sorted(installed.files) == sorted(FILES)
    context = RunContext(tmp_path, tmp_path, tmp_path, ModelInfo("toy", "1"), weights_dir=tmp_path / "weights")
    assert require_weights(context, folder, "B").files == installed.files


def test_fetch_follows_http_redirects(tmp_path, http_root):
    served, base = http_root
    data = make_zip(served / "a.zip", FILES)
    folder = write_model(tmp_path / "models", "toy", [entry("A", f"{base}/moved/a.zip", sha256(data))])
    (installed,) = fetch(load_manifest(folder), tmp_path / "weights")
    assert sorted(installed.files) == sorted(FILES)


def test_fetch_single_file_and_http_404(tmp_path, http_root):
    served, base = http_root
    (served / "net.pt").write_bytes(b"weights")
    folder = write_model(tmp_path / "models", "toy", [
        entry("C", f"{base}/net.pt", sha256(b"weights"), "file", filename="model.pt"),
        entry("D", f"{base}/missing.zip", "0" * 64),
    ])
    manifest = load_manifest(folder)
    (installed,) = fetch(manifest, tmp_path / "weights", entries=["C"])
    assert (installed.path / "model.pt").read_bytes() == b"weights"
    with pytest.raises(WeightsError, match="HTTP 404"):
        fetch(manifest, tmp_path / "weights", entries=["D"])
    with pytest.raises(WeightsError, match="no weights entry 'E'"):
        fetch(manifest, tmp_path / "weights", entries=["E"])


def test_subdir_places_members_below_the_target(tmp_path):
    data = make_zip(tmp_path / "v1.zip", {"3d_fullres/Task1/plans.pkl": b"p"})
    folder = write_model(tmp_path / "models", "toy",
                         [entry("A", (tmp_path / "v1.zip").as_uri(), sha256(data), subdir="nnUNet")])
    (installed,) = fetch(load_manifest(folder), tmp_path / "weights")
    assert dict(installed.files) == {"nnUNet/3d_fullres/Task1/plans.pkl": sha256(b"p")}
    assert (tmp_path / "weights/toy/A/nnUNet/3d_fullres/Task1/plans.pkl").read_bytes() == b"p"


def test_fetch_from_local_folder_uses_no_network(tmp_path):
    source = tmp_path / "archives"
    source.mkdir()
    data = make_zip(source / "a.zip", FILES)
    folder = write_model(tmp_path / "models", "toy", [entry("A", "http://127.0.0.1:9/nowhere/a.zip", sha256(data))])
    (installed,) = fetch(load_manifest(folder), tmp_path / "weights", source_dir=source)
    assert sorted(installed.files) == sorted(FILES)
    with pytest.raises(WeightsError, match="a.zip is not in"):
        fetch(load_manifest(folder), tmp_path / "w2", source_dir=tmp_path)


def test_wrong_sha256_is_refused_and_nothing_installed(tmp_path):
    make_zip(tmp_path / "a.zip", FILES)
    folder = write_model(tmp_path / "models", "toy", [entry("A", (tmp_path / "a.zip").as_uri(), "1" * 64)])
    root = tmp_path / "weights"
    with pytest.raises(WeightsError, match="requires 1111.*nothing was installed"):
        fetch(load_manifest(folder), root)
    assert not (root / "toy").exists()
    assert leftovers(root) == []


def test_unknown_sha256_fails_loudly_with_the_actual_checksum(tmp_path):
    data = make_zip(tmp_path / "a.zip", FILES)
    folder = write_model(tmp_path / "models", "toy", [entry("A", (tmp_path / "a.zip").as_uri(), "")])
    root = tmp_path / "weights"
    with pytest.raises(WeightsError, match=f"no sha256 recorded.*{sha256(data)}"):
        fetch(load_manifest(folder), root)
    assert not (root / "toy").exists()
    with pytest.raises(WeightsError, match="no sha256 is recorded"):
        require_weights(RunContext(tmp_path, tmp_path, tmp_path, ModelInfo("toy", "1"), root), folder, "A")


def test_published_md5_is_checked(tmp_path):
    data = make_zip(tmp_path / "a.zip", FILES)
    folder = write_model(
        tmp_path / "models", "toy", [entry("A", (tmp_path / "a.zip").as_uri(), sha256(data), md5="0" * 32)]
    )
    with pytest.raises(WeightsError, match="published md5"):
        fetch(load_manifest(folder), tmp_path / "weights")


@pytest.mark.parametrize(
    ("kind", "members", "symlink"),
    [
        ("zip", {"ok.txt": b"1", "../evil.txt": b"x"}, None),
        ("zip", {"ok.txt": b"1", "/tmp/evil.txt": b"x"}, None),
        ("tar.gz", {"ok.txt": b"1", "a/../../evil.txt": b"x"}, None),
        ("tar.gz", {"ok.txt": b"1"}, ("link", "/etc/passwd")),
        ("zip", {"ok.txt": b"1"}, ("link", "/etc/passwd")),
    ],
)
def test_unsafe_archive_is_refused(tmp_path, kind, members, symlink):
    archive = tmp_path / f"bad.{kind}"
    data = make_zip(archive, members, symlink) if kind == "zip" else make_tar(archive, members, symlink)
    folder = write_model(tmp_path / "models", "toy", [entry("A", archive.as_uri(), sha256(data), kind)])
    root = tmp_path / "weights"
    with pytest.raises(WeightsError, match="refused"):
        fetch(load_manifest(folder), root)
    assert not (root / "toy").exists() and leftovers(root) == []
    assert not (tmp_path / "evil.txt").exists()


def test_already_installed_is_kept_and_force_reinstalls(tmp_path):
    data = make_zip(tmp_path / "a.zip", FILES)
    folder = write_model(tmp_path / "models", "toy", [entry("A", (tmp_path / "a.zip").as_uri(), sha256(data))])
    manifest, root = load_manifest(folder), tmp_path / "weights"
    fetch(manifest, root)
    marker = root / "toy" / "A" / "model" / "plans.json"
    marker.write_bytes(b"changed")
    fetch(manifest, root)
    assert marker.read_bytes() == b"changed"
    fetch(manifest, root, force=True)
    assert marker.read_bytes() == FILES["model/plans.json"]


# ---------------------------------------------------------------- run-time checks and verify


@pytest.fixture()
def installed_model(tmp_path):
    data = make_zip(tmp_path / "a.zip", FILES)
    folder = write_model(tmp_path / "models", "toy", [entry("A", (tmp_path / "a.zip").as_uri(), sha256(data))])
    root = tmp_path / "weights"
    fetch(load_manifest(folder), root)
    context = RunContext(tmp_path, tmp_path, tmp_path, ModelInfo("toy", "1"), weights_dir=root)
    return folder, root, context


def test_require_weights_missing_names_fetch_command(tmp_path):
    folder = write_model(tmp_path / "models", "toy", [entry("A", "https://x.org/a.zip", "2" * 64)])
    context = RunContext(tmp_path, tmp_path, tmp_path, ModelInfo("toy", "1"), weights_dir=tmp_path / "w")
    with pytest.raises(WeightsError) as info:
        require_weights(context, folder, "A")
    assert f"mhub weights fetch toy --weights-dir {tmp_path / 'w'}" in str(info.value)
    assert info.value.exit_code == ExitCode.WEIGHTS_ERROR == 6
    with pytest.raises(ConfigError, match="no weights entry 'B'"):
        require_weights(context, folder, "B")


def test_require_weights_detects_missing_file_and_other_archive(installed_model):
    folder, root, context = installed_model
    assert sorted(require_weights(context, folder, "A").files) == sorted(FILES)
    checkpoint = root / "toy/A/model/fold_0/checkpoint.pth"
    checkpoint.unlink()
    with pytest.raises(WeightsError, match=f"file {checkpoint} is missing.*mhub weights fetch toy"):
        require_weights(context, folder, "A")
    manifest_text = (folder / "mhub.toml").read_text()
    stamp = read_stamp(root / "toy/A")
    (folder / "mhub.toml").write_text(manifest_text.replace(stamp.archive_sha256, "3" * 64))
    with pytest.raises(WeightsError, match="not 3333"):
        require_weights(context, folder, "A")
    (root / "toy/A" / STAMP_NAME).unlink()
    (folder / "mhub.toml").write_text(manifest_text)
    with pytest.raises(WeightsError, match="not installed by mhub"):
        require_weights(context, folder, "A")


def test_verify_reports_changed_missing_and_extra_files(installed_model):
    folder, root, _ = installed_model
    target = root / "toy" / "A"
    (target / "model/plans.json").write_bytes(b"tampered")
    (target / "model/extra.bin").write_bytes(b"x")
    problems = verify(load_manifest(folder), root)
    assert len(problems) == 2
    assert "plans.json has sha256" in problems[0] and "unexpected file" in problems[1]


# ---------------------------------------------------------------- CLI and mhub run


def test_cli_fetch_verify_list(tmp_path, monkeypatch, capsys):
    data = make_zip(tmp_path / "a.zip", FILES)
    write_model(tmp_path / "models", "toy", [entry("A", (tmp_path / "a.zip").as_uri(), sha256(data))])
    monkeypatch.setenv("MHUB_MODELS_DIR", str(tmp_path / "models"))
    root = str(tmp_path / "weights")
    assert main(["weights", "list", "toy", "--weights-dir", root]) == 0
    assert "missing" in capsys.readouterr().out
    assert main(["weights", "fetch", "toy", "--weights-dir", root]) == 0
    assert main(["weights", "verify", "toy", "--weights-dir", root]) == 0
    assert "2 files verified" in capsys.readouterr().out
    (tmp_path / "weights/toy/A/model/plans.json").write_bytes(b"tampered")
    assert main(["weights", "verify", "toy", "--weights-dir", root]) == ExitCode.WEIGHTS_ERROR
    assert "plans.json has sha256" in capsys.readouterr().err
    assert main(["weights", "fetch", "nosuch", "--weights-dir", root]) == ExitCode.CONFIG_ERROR


MODEL_MODULES = textwrap.dedent('''
    from pathlib import Path
    from mhubio.core.module import Importer, ImportResult, Module, Output
    from mhubio.core.filetypes import FileType
    from mhubio.weights import require_weights

    class ToyImporter(Importer):
        outputs = {"ct": Output(FileType.DICOM, {"mod": "ct"})}

        def import_instances(self, input_dir):
            raise AssertionError("input must not be read when weights are missing")

    class ToyNet(Module):
        def preflight(self):
            require_weights(self.context, self.context.model.directory, "A")
''')


def test_mhub_run_with_missing_weights_exits_6(tmp_path, monkeypatch, capsys):
    folder = write_model(tmp_path / "models", "toy_missing_weights", [entry("A", "https://x.org/a.zip", "4" * 64)])
    (folder / "modules").mkdir()
    (folder / "modules" / "toy.py").write_text(MODEL_MODULES)
    (folder / "config").mkdir()
    (folder / "config" / "default.yml").write_text(
        "general: {model: toy_missing_weights, version: 1.0.0}\nexecute: [ToyImporter, ToyNet]\n"
    )
    monkeypatch.setenv("MHUB_MODELS_DIR", str(tmp_path / "models"))
    (tmp_path / "in").mkdir()
    code = main(["run", "--model", "toy_missing_weights", "-i", str(tmp_path / "in"), "-o", str(tmp_path / "out"),
                 "--weights-dir", str(tmp_path / "w"), "-q"])
    assert code == ExitCode.WEIGHTS_ERROR
    assert "mhub weights fetch toy_missing_weights" in capsys.readouterr().err
