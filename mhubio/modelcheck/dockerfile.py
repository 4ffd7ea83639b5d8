"""Conventions of ``models/<name>/Dockerfile``."""

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


def check_dockerfile(path: Path, model_name: str) -> list[str]:
    """Problems of a model Dockerfile (empty list = follows the conventions).

    - the first ``FROM`` is ``${MHUB_BASE_IMAGE}``, declared by an ``ARG``;
    - ``ENV MHUB_MODEL=<name>`` names the model;
    - no ``ENTRYPOINT``/``CMD``: the base image's entry point is the contract;
    - nothing is downloaded except through ``mhub weights fetch`` (sha256-verified),
      so no curl, wget, git clone or ``ADD <url>``.
    """
    if not path.is_file():
        return [f"{path}: missing (every model ships a Dockerfile FROM the base image)"]
    steps = _instructions(path.read_text())
    problems = []
    froms = [args for name, args in steps if name == "FROM"]
    args = {a.split("=")[0].strip() for name, a in steps if name == "ARG"}
    if not froms or not froms[0].startswith("${MHUB_BASE_IMAGE}"):
        problems.append(f"{path}: the first FROM must be ${{MHUB_BASE_IMAGE}} (the shared base image)")
    if "MHUB_BASE_IMAGE" not in args:
        problems.append(f"{path}: declare ARG MHUB_BASE_IMAGE before FROM")
    envs = " ".join(a for name, a in steps if name == "ENV")
    if not re.search(rf"\bMHUB_MODEL[= ]\s*{re.escape(model_name)}\b", envs):
        problems.append(f"{path}: set ENV MHUB_MODEL={model_name}")
    for name, arguments in steps:
        if name in ("ENTRYPOINT", "CMD"):
            problems.append(f"{path}: {name} {arguments!r} overrides the base image's mhub entry point")
        if _DOWNLOADERS.search(f"{name} {arguments}"):
            problems.append(
                f"{path}: {name} {arguments[:60]!r} downloads outside `mhub weights fetch` "
                "(declare weights with sha256 in mhub.toml)"
            )
    return problems
