"""The weights manifest of a model: ``models/<name>/mhub.toml``.

Example
-------
::

    [model]
    name = "nnunet_segthor"
    version = "1.0.0"

    [[weights]]
    name = "Task055_SegTHOR"
    url = "https://zenodo.org/record/4485926/files/Task055_SegTHOR.zip"
    sha256 = "…64 hex digits…"
    archive = "zip"
    target = "nnunet_v1/Task055_SegTHOR"
    strip_components = 0

Optional fields of an entry: ``strip_components`` (leading folders removed
from the members), ``subdir`` (folder inside ``target`` that receives them),
``md5`` (a checksum published by the host, checked as well), ``filename``
(for ``archive = "file"``), ``size`` (bytes of the archive, written by
``mhub weights pin``), ``layout`` (the folder layout the runner expects,
checked when the archive is unpacked: see :mod:`mhubio.weights.layout`) and
``trusted_unpinned`` (the sha256 was observed by ``--trust-unpinned``, not
pinned: written only into the manifest staged by ``mhub build``).
``sha256`` is required; an empty string means "not yet known" and makes
fetching and verification fail until the checksum is recorded
(``mhub weights pin``), unless ``--trust-unpinned`` is given.  ``[[test]]`` tables
belong to ``mhub test`` and are not read here.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar
from urllib.parse import unquote, urlparse

from mhubio.core.errors import ConfigError
from mhubio.weights.layout import WeightsLayout

MANIFEST_NAME = "mhub.toml"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_MD5 = re.compile(r"[0-9a-f]{32}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_URL_SCHEMES = ("http", "https", "file")


class ArchiveFormat(Enum):
    """How a weights download is laid out."""

    ZIP = "zip"
    TAR_GZ = "tar.gz"
    FILE = "file"


@dataclass(frozen=True)
class WeightsEntry:
    """One downloadable weights archive (or single file) of a model.

    Parameters
    ----------
    name:
        Entry name used by runners (``require_weights(..., entry=name)``).
    url:
        ``http``, ``https`` or ``file`` URL of the archive.
    sha256:
        Hex sha256 of the archive as downloaded; ``""`` while unknown.
    archive:
        Archive format.
    target:
        Folder, relative to the weights folder, that receives the unpacked files.
    strip_components:
        Leading path components removed from every archive member.
    md5:
        Checksum published by the data host (e.g. Zenodo), checked in addition
        to ``sha256`` when given.
    filename:
        For ``archive = "file"``: the name of the file inside ``target``
        (default: the last part of the URL).
    subdir:
        Folder inside ``target`` that receives the members (after
        ``strip_components``), for archives whose paths start below the folder
        a tool expects, e.g. nnU-Net v1 archives (``3d_fullres/...``) that
        belong under ``RESULTS_FOLDER/nnUNet``.
    size:
        Size of the archive in bytes; 0 while unknown.
    layout:
        Folder layout the unpacked files must have; ``None``: not checked.
    trusted_unpinned:
        ``sha256`` was observed at a ``--trust-unpinned`` fetch, not pinned.
    """

    name: str
    url: str
    sha256: str
    archive: ArchiveFormat
    target: PurePosixPath
    strip_components: int = 0
    md5: str = ""
    filename: str = ""
    subdir: PurePosixPath | None = None
    size: int = 0
    layout: WeightsLayout | None = None
    trusted_unpinned: bool = False

    @property
    def archive_name(self) -> str:
        """File name of the archive: the last part of the URL path."""
        return PurePosixPath(unquote(urlparse(self.url).path)).name

    @property
    def installed_name(self) -> str:
        """For single files: the name of the installed file."""
        return self.filename or self.archive_name


@dataclass(frozen=True)
class ModelSection:
    """The ``[model]`` table."""

    name: str
    version: str


@dataclass(frozen=True)
class WeightsManifest:
    """The validated manifest of one model.

    Use :func:`load_manifest` to read one from a model folder.
    """

    model: ModelSection
    weights: tuple[WeightsEntry, ...]
    source: Path | None = None

    def entry(self, name: str) -> WeightsEntry:
        """The entry called ``name``; ``KeyError`` naming the known entries otherwise."""
        for entry in self.weights:
            if entry.name == name:
                return entry
        known = ", ".join(e.name for e in self.weights) or "none"
        raise KeyError(f"model {self.model.name!r} declares no weights entry {name!r} (known: {known})")


def load_manifest(model_dir: Path) -> WeightsManifest:
    """Read and validate ``model_dir/mhub.toml``.

    Raises
    ------
    ConfigError
        The file is missing, not TOML, or any field is invalid (all problems
        are listed, one per field).
    """
    path = Path(model_dir) / MANIFEST_NAME
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"model folder {model_dir} has no {MANIFEST_NAME}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    manifest = parse_manifest(raw, source=path)
    if manifest.model.name != Path(model_dir).resolve().name:
        folder_name = Path(model_dir).resolve().name
        raise ConfigError(f"{path}: model.name {manifest.model.name!r} differs from the folder name {folder_name!r}")
    return manifest


def parse_manifest(raw: Mapping[str, Any], source: Path | None = None) -> WeightsManifest:
    """Validate a parsed manifest mapping; collects every problem."""
    where = f"{source}: " if source else ""
    problems: list[str] = []
    unknown = sorted(set(raw) - {"model", "weights", "test"})
    problems += [f"{where}unknown table {k!r} (allowed: model, weights, test)" for k in unknown]
    model = _parse_model(raw.get("model"), problems, where)
    weights_raw = raw.get("weights", [])
    if not isinstance(weights_raw, list):
        problems.append(f"{where}weights: must be an array of tables ([[weights]])")
        weights_raw = []
    entries = []
    for index, table in enumerate(weights_raw, start=1):
        entry = _parse_entry(table, problems, f"{where}weights[{index}]")
        if entry is not None:
            entries.append(entry)
    problems += _check_unique(entries, where)
    if problems:
        raise ConfigError(problems)
    assert model is not None
    return WeightsManifest(model, tuple(entries), source)


def _parse_model(table: Any, problems: list[str], where: str) -> ModelSection | None:
    if not isinstance(table, dict):
        problems.append(f"{where}[model] table with name and version is required")
        return None
    unknown = sorted(set(table) - {"name", "version"})
    problems += [f"{where}model.{k}: unknown field (allowed: name, version)" for k in unknown]
    name, version = table.get("name"), table.get("version")
    ok = True
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        problems.append(f"{where}model.name: required, letters, digits, '_', '.', '-' (got {name!r})")
        ok = False
    if not isinstance(version, str) or not version.strip():
        problems.append(f"{where}model.version: required non-empty string (got {version!r})")
        ok = False
    return ModelSection(name, version) if ok and isinstance(name, str) and isinstance(version, str) else None


_ENTRY_FIELDS = ("name", "url", "sha256", "archive", "target", "strip_components", "md5", "filename", "subdir",
                 "size", "layout", "trusted_unpinned")


def _is_name(value: Any) -> bool:
    return isinstance(value, str) and bool(_NAME.fullmatch(value))


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and urlparse(value).scheme in _URL_SCHEMES and bool(urlparse(value).path)


def _is_sha256(value: Any) -> bool:
    return isinstance(value, str) and (not value or bool(_SHA256.fullmatch(value)))


def _is_md5(value: Any) -> bool:
    return isinstance(value, str) and (not value or bool(_MD5.fullmatch(value)))


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_file_name(value: Any) -> bool:
    return isinstance(value, str) and not (value and ("/" in value or "\\" in value or value in (".", "..")))


_FIELD_RULES: tuple[tuple[str, Callable[[Any], bool], str], ...] = (
    ("name", _is_name, "letters, digits, '_', '.', '-' only"),
    ("url", _is_url, "must be an http, https or file URL with a path"),
    ("sha256", _is_sha256, '64 lower-case hex digits, or "" while unknown'),
    ("md5", _is_md5, "32 lower-case hex digits"),
    ("strip_components", _is_count, "a non-negative integer"),
    ("filename", _is_file_name, "a plain file name"),
    ("size", _is_count, "a non-negative integer, the archive's bytes"),
    ("trusted_unpinned", lambda value: isinstance(value, bool), "true or false"),
)
"""Per-field value checks of a ``[[weights]]`` entry: (field, check, what the field must be)."""


def _parse_entry(table: Any, problems: list[str], where: str) -> WeightsEntry | None:
    if not isinstance(table, dict):
        problems.append(f"{where}: must be a table")
        return None
    before = len(problems)
    unknown = sorted(set(table) - set(_ENTRY_FIELDS))
    problems += [f"{where}.{k}: unknown field (allowed: {', '.join(_ENTRY_FIELDS)})" for k in unknown]
    required = ("name", "url", "sha256", "archive", "target")
    problems += [f"{where}.{key}: required" for key in required if key not in table]
    problems += [f"{where}.{key}: {must} (got {table[key]!r})" for key, valid, must in _FIELD_RULES
                 if key in table and not valid(table[key])]
    archive = _enum_field(table, "archive", ArchiveFormat, problems, where)
    target = _relative_folder(table.get("target", ""))
    if "target" in table and target is None:
        problems.append(f"{where}.target: a relative folder without '..' (got {table['target']!r})")
    subdir = _relative_folder(table.get("subdir", ".")) if "subdir" in table else None
    if "subdir" in table and subdir is None:
        problems.append(f"{where}.subdir: a relative folder without '..' (got {table['subdir']!r})")
    name, url, sha256 = table.get("name", ""), table.get("url", ""), table.get("sha256", "")
    md5, filename, strip = table.get("md5", ""), table.get("filename", ""), table.get("strip_components", 0)
    size, trusted = table.get("size", 0), table.get("trusted_unpinned", False)
    if archive is not None and archive is not ArchiveFormat.FILE and filename:
        problems.append(f"{where}.filename: only for archive = \"file\"")
    if archive is ArchiveFormat.FILE and strip:
        problems.append(f"{where}.strip_components: only for zip and tar.gz archives")
    layout = _enum_field(table, "layout", WeightsLayout, problems, where)
    if trusted is True and not sha256:
        problems.append(f"{where}.trusted_unpinned: needs the observed sha256")
    if len(problems) > before:
        return None
    assert archive is not None and target is not None
    return WeightsEntry(name, url, sha256, archive, target, strip, md5, filename, subdir, size, layout, trusted)


_E = TypeVar("_E", bound=Enum)


def _enum_field(table: Mapping[str, Any], key: str, enum: type[_E], problems: list[str], where: str) -> _E | None:
    """``table[key]`` as a member of ``enum``; ``None`` when absent or invalid (then a problem is added)."""
    if key not in table:
        return None
    try:
        return enum(table[key])
    except ValueError:
        allowed = ", ".join(str(m.value) for m in enum)
        problems.append(f"{where}.{key}: one of {allowed} (got {table[key]!r})")
        return None


def _relative_folder(text: Any) -> PurePosixPath | None:
    """``text`` as a relative POSIX folder without ``.``/``..`` parts; ``None`` if it is not one."""
    if not isinstance(text, str) or not text.strip() or "\\" in text:
        return None
    path = PurePosixPath(text)
    if path.is_absolute() or any(part in ("..", ".") for part in text.split("/")):
        return None
    return path


def _check_unique(entries: list[WeightsEntry], where: str) -> list[str]:
    problems = []
    seen: set[str] = set()
    for entry in entries:
        if entry.name in seen:
            problems.append(f"{where}weights: entry name {entry.name!r} is used twice")
        seen.add(entry.name)
    for a in entries:
        for b in entries:
            if a is not b and (a.target == b.target or b.target.is_relative_to(a.target)):
                if a.target == b.target and entries.index(a) > entries.index(b):
                    continue
                problems.append(
                    f"{where}weights: targets of {a.name!r} ({a.target}) and {b.name!r} ({b.target}) overlap; "
                    "each entry needs its own folder"
                )
    return problems
