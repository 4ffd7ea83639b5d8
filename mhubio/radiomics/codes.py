"""Coded quantity (IBSI) and unit (UCUM) of radiomics features, as data."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

from mhubio.core.resources import packaged_csv_rows

__all__ = ["FeatureCode", "coded_features", "feature_code", "parse_feature_codes"]

_COLUMNS = (
    "feature_class",
    "feature",
    "quantity_scheme",
    "quantity_value",
    "quantity_meaning",
    "unit_scheme",
    "unit_value",
    "unit_meaning",
)


@dataclass(frozen=True)
class FeatureCode:
    """How one pyradiomics feature is written into a Measurement Report.

    Parameters
    ----------
    feature_class: str
        pyradiomics feature class, e.g. ``"shape"``.
    feature: str
        pyradiomics feature name within the class, e.g. ``"MeshVolume"``.
    quantity: pydicom.sr.coding.Code
        Concept name of the measurement (IBSI code).
    unit: pydicom.sr.coding.Code
        Unit of the measurement (UCUM code); ``1`` for dimensionless features.
    """

    feature_class: str
    feature: str
    quantity: Code
    unit: Code

    def __post_init__(self) -> None:
        where = f"feature {self.key}"
        if self.unit.scheme_designator != "UCUM":
            raise ValueError(f"{where}: unit must be a UCUM code, got {self.unit.scheme_designator}")
        if self.quantity.scheme_designator == "IBSI":
            known = _ibsi_meanings().get(self.quantity.value)
            if known is None:
                raise ValueError(f"{where}: IBSI code {self.quantity.value!r} is not in the DICOM code dictionary")
            if known != self.quantity.meaning:
                raise ValueError(
                    f"{where}: IBSI code {self.quantity.value} means {known!r} in DICOM, "
                    f"not {self.quantity.meaning!r}"
                )

    @property
    def key(self) -> str:
        """Feature key used in results and tables: ``"<class>_<name>"``, e.g. ``"shape_MeshVolume"``."""
        return f"{self.feature_class}_{self.feature}"


@cache
def _ibsi_meanings() -> dict[str, str]:
    return {code.value: code.meaning for code in codes.IBSI.concepts.values()}


def parse_feature_codes(rows: Iterable[Mapping[str, str]], source: str) -> dict[str, FeatureCode]:
    """Build the feature key -> :class:`FeatureCode` table from CSV rows.

    Raises
    ------
    ValueError
        If a column is missing, a feature is listed twice or a code is invalid;
        the message names the table and line.
    """
    table: dict[str, FeatureCode] = {}
    for line, row in enumerate(rows, start=2):
        where = f"{source} line {line}"
        missing = [c for c in _COLUMNS if not (row.get(c) or "").strip()]
        if missing:
            raise ValueError(f"{where}: empty or missing columns {', '.join(missing)}")
        try:
            code = FeatureCode(
                row["feature_class"].strip(),
                row["feature"].strip(),
                Code(row["quantity_value"].strip(), row["quantity_scheme"].strip(), row["quantity_meaning"].strip()),
                Code(row["unit_value"].strip(), row["unit_scheme"].strip(), row["unit_meaning"].strip()),
            )
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        if code.key in table:
            raise ValueError(f"{where}: feature {code.key} is listed twice")
        table[code.key] = code
    return table


@cache
def _table() -> dict[str, FeatureCode]:
    rows = packaged_csv_rows("mhubio.radiomics", "data", "feature_codes.csv")
    return parse_feature_codes(rows, "radiomics feature_codes.csv")


def coded_features() -> list[FeatureCode]:
    """All features that have a code, in table order (the 14 shape features of paper 000 first)."""
    return list(_table().values())


def feature_code(key: str) -> FeatureCode:
    """The code of feature ``key`` (``"shape_MeshVolume"``).

    Raises
    ------
    KeyError
        If the feature has no code; the message lists the coded features.
    """
    try:
        return _table()[key]
    except KeyError:
        known = ", ".join(_table())
        raise KeyError(f"feature {key!r} has no IBSI code in feature_codes.csv (coded: {known})") from None
