"""Host-side wheelhouses: image builds install Python packages from them, never from an index."""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
import tomllib
from collections.abc import Sequence
from pathlib import Path

from mhubio.containers.docker import DockerError, run_tool
from mhubio.containers.paths import default_wheelhouse

logger = logging.getLogger(__name__)

#: Seconds a pip call may take (the CPU torch wheel alone is about 190 MB).
_PIP_TIMEOUT = 3600

#: File time of every member of the project wheel (1980-01-01, the earliest a zip file can hold).
_SOURCE_DATE_EPOCH = "315532800"


def project_requirements(project_dir: Path, extras: Sequence[str] = ()) -> list[str]:
    """Runtime requirements of the Python project in ``project_dir``, with those of its ``extras``.

    Raises
    ------
    DockerError
        If there is no ``pyproject.toml`` or it lacks one of the ``extras``.
    """
    pyproject = project_dir / "pyproject.toml"
    try:
        project = tomllib.loads(pyproject.read_text()).get("project", {})
    except FileNotFoundError as exc:
        raise DockerError(f"{pyproject} not found: is {project_dir} the mhubio repository?") from exc
    requirements = list(project.get("dependencies", []))
    optional = project.get("optional-dependencies", {})
    for extra in extras:
        if extra not in optional:
            raise DockerError(f"{pyproject} has no extra {extra!r} (known: {', '.join(sorted(optional))})")
        requirements += optional[extra]
    return requirements


def make_wheelhouse(
    dest: Path | None = None,
    *,
    requirements: Sequence[str] = (),
    requirement_files: Sequence[Path] = (),
    constraints: Path | None = None,
    python: str = sys.executable,
) -> Path:
    """Fill ``dest`` with wheels of ``requirements`` and all their dependencies.

    Wheels already in ``dest`` are used first without asking any index, so that a filled wheelhouse works
    offline; only what is missing is downloaded, or built from source by ``pip wheel``. Source builds run
    without build isolation, against the packages of ``python``'s environment, because some packages
    (pyradiomics 3.0.1) need numpy at build time without declaring it: use the project's environment, which has
    the build requirements. The wheels must suit the images' Python, CPython 3.11 on x86-64 Linux.

    Parameters
    ----------
    dest
        Wheelhouse folder, created if needed; default :func:`~mhubio.containers.paths.default_wheelhouse`.
    requirements
        Requirement specifiers.
    requirement_files
        pip requirement files.
    constraints
        pip constraints file applied to the resolution (keeps e.g. the CPU build of torch).
    python
        Interpreter whose pip builds the wheelhouse.

    Returns
    -------
    pathlib.Path
        The wheelhouse folder.

    Raises
    ------
    DockerError
        If pip cannot provide every wheel.
    """
    dest = (dest or default_wheelhouse()).absolute()
    dest.mkdir(parents=True, exist_ok=True)
    if not requirements and not requirement_files:
        return dest
    args = [python, "-m", "pip", "wheel", "--disable-pip-version-check", "--no-build-isolation"]
    args += ["--wheel-dir", str(dest)]
    args += ["--find-links", str(dest)]
    if constraints is not None:
        args += ["-c", str(constraints)]
    for path in requirement_files:
        args += ["-r", str(path)]
    args += list(requirements)
    cached = run_tool([*args, "--no-index"], check=False, timeout=_PIP_TIMEOUT)
    if cached.returncode == 0:
        logger.info("wheelhouse %s already complete", dest)
        return dest
    result = run_tool(args, timeout=_PIP_TIMEOUT)
    logger.info("wheelhouse %s filled in %.0f s", dest, result.seconds)
    return dest


def _copy_project(project_dir: Path, dest: Path) -> None:
    """Copy the files a wheel build of ``project_dir`` reads: its top-level files and the mhubio package."""
    for entry in project_dir.iterdir():
        if entry.is_file():
            shutil.copy2(entry, dest / entry.name)
    shutil.copytree(
        project_dir / "mhubio", dest / "mhubio", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )


def build_project_wheel(project_dir: Path, dest: Path, *, python: str = sys.executable) -> Path:
    """Build the wheel of the mhubio project in ``project_dir`` into ``dest``, without dependencies.

    The build runs on a copy of the sources, so that no stale ``build/`` folder of the checkout leaks into
    the wheel, and with fixed file times, so that the same sources give the same wheel (and the image build
    its cached layers).

    Returns
    -------
    pathlib.Path
        The wheel file.
    """
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mhub-wheel-") as work:
        source, out = Path(work) / "source", Path(work) / "out"
        source.mkdir()
        _copy_project(project_dir, source)
        run_tool(
            [python, "-m", "pip", "wheel", "--disable-pip-version-check", "--no-deps", "--no-build-isolation",
             "--wheel-dir", str(out), str(source)],
            timeout=_PIP_TIMEOUT,
            env={"SOURCE_DATE_EPOCH": _SOURCE_DATE_EPOCH},
        )
        wheels = list(out.glob("*.whl"))
        if len(wheels) != 1:
            raise DockerError(f"pip wheel of {project_dir} gave {len(wheels)} wheels instead of one")
        target = dest / wheels[0].name
        shutil.move(wheels[0], target)
    return target
