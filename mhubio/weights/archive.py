"""Safe unpacking of zip and tar.gz archives.

Only regular files and folders are unpacked.  A member with an absolute path,
a ``..`` component, a drive letter, or one that is a link or device makes the
whole archive refused before anything is written.  The unpacked size is capped in
total and relative to the archive's size (a compression bomb is refused while it
unpacks, and what it wrote is removed).
"""

from __future__ import annotations

import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from mhubio.core.errors import WeightsError
from mhubio.weights.manifest import ArchiveFormat

MAX_UNPACKED_BYTES = 64 << 30
"""Default cap on the total unpacked size of one archive (64 GiB)."""
MAX_COMPRESSION_RATIO = 1000
"""Default cap on unpacked size / archive size."""
_CHUNK = 1 << 20


@dataclass(frozen=True)
class _Member:
    name: str
    is_dir: bool
    handle: zipfile.ZipInfo | tarfile.TarInfo


def unpack(
    archive: Path,
    fmt: ArchiveFormat,
    dest: Path,
    strip_components: int = 0,
    max_bytes: int = MAX_UNPACKED_BYTES,
    max_ratio: float = MAX_COMPRESSION_RATIO,
) -> list[Path]:
    """Unpack ``archive`` into the existing folder ``dest``; return the files written.

    Raises
    ------
    WeightsError
        A member is unsafe, a file member lies above ``strip_components``, the
        archive is corrupt, or it unpacks to more than ``max_bytes`` or more than
        ``max_ratio`` times its own size.
    """
    cap = min(max_bytes, int(max_ratio * max(archive.stat().st_size, 1)))
    written: list[Path] = []
    try:
        return _unpack(archive, fmt, dest, strip_components, cap, written)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise


def _unpack(
    archive: Path, fmt: ArchiveFormat, dest: Path, strip_components: int, cap: int, written: list[Path]
) -> list[Path]:
    if fmt is ArchiveFormat.FILE:
        raise ValueError("single files are not unpacked")
    try:
        with _open(archive, fmt) as (members, read):
            plan = [(m, _destination(m.name, strip_components, archive)) for m in members]
            total = 0
            for member, rel in plan:
                if rel is None:
                    continue
                out = dest.joinpath(*rel.parts)
                if member.is_dir:
                    out.mkdir(parents=True, exist_ok=True)
                    continue
                out.parent.mkdir(parents=True, exist_ok=True)
                with read(member) as source, open(out, "xb") as sink:
                    written.append(out)
                    while chunk := source.read(_CHUNK):
                        total += len(chunk)
                        if total > cap:
                            raise WeightsError(
                                f"archive {archive.name} refused: it unpacks to more than {cap} bytes, "
                                "the cap on total size and compression ratio (a compression bomb?)"
                            )
                        sink.write(chunk)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise WeightsError(f"archive {archive.name} is corrupt: {exc}") from exc
    except FileExistsError as exc:
        raise WeightsError(f"archive {archive.name} holds {exc.filename} twice") from exc
    if not written:
        raise WeightsError(f"archive {archive.name} holds no files (strip_components={strip_components})")
    return written


def _destination(name: str, strip: int, archive: Path) -> PurePosixPath | None:
    """Member path after stripping; ``None`` for folders above the cut."""
    raw = name.rstrip("/")
    path = PurePosixPath(raw)
    if (
        not raw
        or "\\" in raw
        or path.is_absolute()
        or (path.parts and ":" in path.parts[0])
        or any(part == ".." for part in path.parts)
    ):
        raise WeightsError(f"archive {archive.name} refused: member {name!r} would be written outside its folder")
    parts = [p for p in path.parts if p != "."]
    if len(parts) <= strip:
        if name.endswith("/"):
            return None
        raise WeightsError(
            f"archive {archive.name}: file {name!r} has fewer than strip_components={strip} leading folders"
        )
    return PurePosixPath(*parts[strip:])


@contextmanager
def _open(archive: Path, fmt: ArchiveFormat) -> Iterator[tuple[list[_Member], Callable[[_Member], IO[bytes]]]]:
    if fmt is ArchiveFormat.ZIP:
        with zipfile.ZipFile(archive) as zf:
            members: list[_Member] = []
            for info in zf.infolist():
                kind = stat.S_IFMT(info.external_attr >> 16)
                if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                    raise WeightsError(
                        f"archive {archive.name} refused: member {info.filename!r} is a link or special file"
                    )
                suffix = "/" if info.is_dir() and not info.filename.endswith("/") else ""
                members.append(_Member(info.filename + suffix, info.is_dir(), info))

            def read(member: _Member) -> IO[bytes]:
                assert isinstance(member.handle, zipfile.ZipInfo)
                return zf.open(member.handle)

            yield members, read
    else:
        with tarfile.open(archive, mode="r:gz") as tf:
            members = []
            for tar_info in tf.getmembers():
                if not (tar_info.isreg() or tar_info.isdir()):
                    raise WeightsError(
                        f"archive {archive.name} refused: member {tar_info.name!r} is a link or special file"
                    )
                members.append(_Member(tar_info.name + ("/" if tar_info.isdir() else ""), tar_info.isdir(), tar_info))

            def read(member: _Member) -> IO[bytes]:
                assert isinstance(member.handle, tarfile.TarInfo)
                handle = tf.extractfile(member.handle)
                assert handle is not None
                return handle

            yield members, read
