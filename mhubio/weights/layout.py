"""The folder layouts the runners expect of unpacked weights.

A manifest entry may declare ``layout``; ``mhub weights pin`` and ``mhub weights
fetch`` then check the unpacked folder before it is accepted, so that an archive
that unpacks one folder too deep (or not at all) is refused with the missing path
named, not at the first run.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from pathlib import Path

from mhubio.core.errors import WeightsError

#: Files of a Body Part Regression model folder (see :mod:`mhubio.bpr.inference`).
_BPR_FILES = ("model.pt", "config.json", "inference-settings.json")
_BPR_SUBFOLDER = "public_bpr_model"


class WeightsLayout(Enum):
    """Folder layout of an installed weights entry, named after the runner that reads it."""

    #: nnU-Net v1 ``RESULTS_FOLDER``: ``nnUNet/<configuration>/<Task>/<trainer>__<plans>/``.
    NNUNET_V1 = "nnunet_v1"
    #: nnU-Net v2 ``nnUNet_results``: ``<Dataset>/<trainer>__<plans>__<configuration>/``.
    NNUNET_V2 = "nnunet_v2"
    #: One TotalSegmentator dataset folder: ``<trainer>__<plans>__<configuration>/``.
    TOTALSEGMENTATOR = "totalsegmentator"
    #: Body Part Regression model folder (``model.pt``, ``config.json``, ``inference-settings.json``),
    #: itself or as ``public_bpr_model/``.
    BPR = "bpr"


def _subfolders(folder: Path, pattern: str = "*") -> list[Path]:
    return sorted(p for p in folder.glob(pattern) if p.is_dir())


def _listing(folder: Path) -> str:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir()) if folder.is_dir() else []
    return ", ".join(names[:8]) + (", ..." if len(names) > 8 else "") if names else "nothing"


def _missing_folds(model: Path, root: Path, checkpoints: Callable[[Path], list[str]]) -> list[str]:
    """Missing files of the fold folders of a trained model folder (at least one fold is needed)."""
    rel = model.relative_to(root).as_posix()
    folds = _subfolders(model, "fold_*") + _subfolders(model, "all")
    if not folds:
        return [f"{rel}/fold_<n>/ (no fold folder; found {_listing(model)})"]
    return [f"{fold.relative_to(root).as_posix()}/{name}" for fold in folds for name in checkpoints(fold)]


def _v1_checkpoints(fold: Path) -> list[str]:
    models = sorted(fold.glob("*.model"))
    if not models:
        return ["<checkpoint>.model (e.g. model_final_checkpoint.model)"]
    return [f"{m.name}.pkl" for m in models if not (fold / f"{m.name}.pkl").is_file()]


def _v2_checkpoints(fold: Path) -> list[str]:
    return [] if (fold / "checkpoint_final.pth").is_file() else ["checkpoint_final.pth"]


def _missing_v2_model(model: Path, root: Path) -> list[str]:
    rel = model.relative_to(root).as_posix()
    missing = [f"{rel}/{name}" for name in ("dataset.json", "plans.json") if not (model / name).is_file()]
    return missing + _missing_folds(model, root, _v2_checkpoints)


def _missing_nnunet_v1(root: Path) -> list[str]:
    models = _subfolders(root, "nnUNet/*/*/*__*")
    if not models:
        return [f"nnUNet/<configuration>/<Task>/<trainer>__<plans>/ (found {_listing(root)})"]
    missing = []
    for model in models:
        rel = model.relative_to(root).as_posix()
        if not (model / "plans.pkl").is_file():
            missing.append(f"{rel}/plans.pkl")
        missing += _missing_folds(model, root, _v1_checkpoints)
    return missing


def _missing_nnunet_v2(root: Path) -> list[str]:
    models = _subfolders(root, "*/*__*__*")
    if not models:
        return [f"<Dataset>/<trainer>__<plans>__<configuration>/ (found {_listing(root)})"]
    return [path for model in models for path in _missing_v2_model(model, root)]


def _missing_totalsegmentator(root: Path) -> list[str]:
    models = _subfolders(root, "*__*__*")
    if not models:
        return [f"<trainer>__<plans>__<configuration>/ (found {_listing(root)})"]
    return [path for model in models for path in _missing_v2_model(model, root)]


def _missing_bpr(root: Path) -> list[str]:
    for candidate in (root, root / _BPR_SUBFOLDER):
        if all((candidate / name).is_file() for name in _BPR_FILES):
            return []
    base = root / _BPR_SUBFOLDER if (root / _BPR_SUBFOLDER).is_dir() else root
    prefix = f"{_BPR_SUBFOLDER}/" if base != root else ""
    return [f"{prefix}{name}" for name in _BPR_FILES if not (base / name).is_file()]


_CHECKS: dict[WeightsLayout, Callable[[Path], list[str]]] = {
    WeightsLayout.NNUNET_V1: _missing_nnunet_v1,
    WeightsLayout.NNUNET_V2: _missing_nnunet_v2,
    WeightsLayout.TOTALSEGMENTATOR: _missing_totalsegmentator,
    WeightsLayout.BPR: _missing_bpr,
}


def missing_paths(layout: WeightsLayout, folder: Path) -> list[str]:
    """Paths, relative to ``folder``, that ``layout`` needs and ``folder`` lacks; empty when it matches."""
    return _CHECKS[layout](Path(folder))


def check_layout(name: str, layout: WeightsLayout | None, folder: Path) -> None:
    """Refuse an unpacked weights folder that lacks what its runner reads.

    Raises
    ------
    WeightsError
        Naming every missing path (relative to the entry's target folder).
    """
    if layout is None:
        return
    missing = missing_paths(layout, folder)
    if missing:
        raise WeightsError(
            f"weights {name}: the archive does not unpack to the {layout.value} layout; missing in the target "
            f"folder: {'; '.join(missing)} (check strip_components and subdir in mhub.toml)"
        )
