"""Typed queries that select data items by file type and metadata.

Grammar::

    query   := branch ("|" branch)*
    branch  := type (":" filter)*
    type    := a FileType name, or "*" for any type
    filter  := key ("=" | "!=") value ("," value)*

A filter ``key=v1,v2`` matches when any of the item's values for ``key`` (items
store lists comma-separated) matches any of ``v1, v2``; values may use shell
wildcards (``*``, ``?``).  ``key!=v`` matches when none does, including when
the item has no such key.  ``nifti:mod=seg:roi=HEART|nrrd:mod=seg`` has two
alternative branches.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from mhubio.core.filetypes import FileType

ANY = "*"
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Filter:
    """One ``key=value`` or ``key!=value`` condition of a query branch."""

    key: str
    values: tuple[str, ...]
    negated: bool = False

    def __post_init__(self) -> None:
        if not _KEY.match(self.key):
            raise ValueError(f"invalid metadata key {self.key!r}")
        if not self.values or any(v == "" for v in self.values):
            raise ValueError(f"filter on {self.key!r} has an empty value")

    def matches(self, meta: Mapping[str, str]) -> bool:
        """Whether concrete metadata satisfies this filter."""
        present = meta.get(self.key)
        hit = present is not None and any(
            fnmatchcase(have, want) for have in split_values(present) for want in self.values
        )
        return hit != self.negated

    def may_match(self, template: Mapping[str, str]) -> bool:
        """Whether metadata produced from ``template`` could satisfy this filter.

        A template value of ``*`` stands for a value known only at run time.
        """
        present = template.get(self.key)
        if present is not None and ANY in split_values(present):
            return True
        return self.matches(template)

    def __str__(self) -> str:
        return f"{self.key}{'!=' if self.negated else '='}{','.join(self.values)}"


@dataclass(frozen=True)
class Branch:
    """One alternative of a query: a file type plus filters."""

    type: FileType | None
    filters: tuple[Filter, ...] = ()

    def matches(self, type_: FileType, meta: Mapping[str, str]) -> bool:
        """Whether an item of ``type_`` with ``meta`` is selected."""
        return (self.type is None or self.type is type_) and all(f.matches(meta) for f in self.filters)

    def may_match(self, type_: FileType, template: Mapping[str, str]) -> bool:
        """Static check used by config validation (see :meth:`Filter.may_match`)."""
        return (self.type is None or self.type is type_) and all(
            f.may_match(template) for f in self.filters
        )

    def __str__(self) -> str:
        head = self.type.value if self.type else ANY
        return ":".join([head, *map(str, self.filters)])


@dataclass(frozen=True)
class Query:
    """A parsed query; build with :meth:`parse`."""

    branches: tuple[Branch, ...]

    @classmethod
    def parse(cls, text: str) -> Query:
        """Parse ``text``; raises ``ValueError`` naming the offending part."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("empty query")
        branches = []
        for raw in text.split("|"):
            parts = [p.strip() for p in raw.strip().split(":")]
            head, rest = parts[0], parts[1:]
            if not head:
                raise ValueError(f"query {text!r}: a branch has no file type")
            type_ = None if head == ANY else FileType.from_name(head)
            filters = []
            for part in rest:
                m = re.fullmatch(r"([^=!]+)(!?=)(.*)", part)
                if not m:
                    raise ValueError(f"query {text!r}: cannot parse filter {part!r} (expected key=value)")
                key, op, value = m.group(1).strip(), m.group(2), m.group(3)
                values = tuple(v.strip() for v in value.split(","))
                filters.append(Filter(key, values, negated=op == "!="))
            branches.append(Branch(type_, tuple(filters)))
        return cls(tuple(branches))

    def matches(self, type_: FileType, meta: Mapping[str, str]) -> bool:
        """Whether an item is selected by any branch."""
        return any(b.matches(type_, meta) for b in self.branches)

    def may_match(self, type_: FileType, template: Mapping[str, str]) -> bool:
        """Whether an item produced from ``template`` could be selected."""
        return any(b.may_match(type_, template) for b in self.branches)

    def __str__(self) -> str:
        return "|".join(map(str, self.branches))


def split_values(value: str) -> list[str]:
    """Split a stored metadata value into its comma-separated parts."""
    return [v.strip() for v in value.split(",")]
