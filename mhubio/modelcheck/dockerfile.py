"""Conventions of ``models/<name>/Dockerfile``, the optional extra system steps of a model image.

Every model image is built by the shared ``base/Dockerfile.model``; a model adds its own Dockerfile only for
steps that need the system (e.g. ``apt-get install``). It is built first, on the base image, and the shared
Dockerfile builds on its result.
"""

from __future__ import annotations

import re
from pathlib import Path

_DOWNLOADERS = re.compile(r"\b(curl|wget|git\s+clone|aria2c)\b|^ADD\s+https?://", re.I | re.M)
_INSTRUCTION = re.compile(r"^\s*([A-Za-z]+)\s+(.*)$")


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with line continuations joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    found = []
    for line in joined.splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        match = _INSTRUCTION.match(line)
        if match:
            found.append((match.group(1).upper(), match.group(2).strip()))
    return found


def check_dockerfile(path: Path) -> list[str]:
    """Problems of a model's Dockerfile of extra system steps (empty list = follows the conventions).

    - the first ``FROM`` is ``${MHUB_BASE_IMAGE}``, declared by an ``ARG``;
    - no ``ENTRYPOINT``/``CMD``: the base image's entry point is the contract;
    - nothing is downloaded except through ``mhub weights fetch`` (sha256-verified),
      so no curl, wget, git clone or ``ADD <url>``.
    """
    steps = _instructions(path.read_text())
    problems = []
    froms = [args for name, args in steps if name == "FROM"]
    args = {a.split("=")[0].strip() for name, a in steps if name == "ARG"}
    if not froms or not froms[0].startswith("${MHUB_BASE_IMAGE}"):
        problems.append(f"{path}: the first FROM must be ${{MHUB_BASE_IMAGE}} (the shared base image)")
    if "MHUB_BASE_IMAGE" not in args:
        problems.append(f"{path}: declare ARG MHUB_BASE_IMAGE before FROM")
    for name, arguments in steps:
        if name in ("ENTRYPOINT", "CMD"):
            problems.append(f"{path}: {name} {arguments!r} overrides the base image's mhub entry point")
        if _DOWNLOADERS.search(f"{name} {arguments}"):
            problems.append(
                f"{path}: {name} {arguments[:60]!r} downloads outside `mhub weights fetch` "
                "(declare weights with sha256 in mhub.toml)"
            )
    return problems
