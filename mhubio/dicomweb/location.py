"""Where a run's input is on a DICOMweb server: a study, a series or a QIDO-RS query."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import SplitResult, parse_qsl, urlsplit, urlunsplit

from mhubio.core.errors import ConfigError

_UID = r"[0-9]+(?:\.[0-9]+)*"
_PATH = re.compile(rf"^(?P<root>.*?)/(?:studies(?:/(?P<study>{_UID})(?:/series(?:/(?P<series>{_UID}))?)?)?|series)/?$")


def is_dicomweb_url(text: str) -> bool:
    """Whether a ``--input``/``--push`` value names a DICOMweb server rather than a folder."""
    return text.startswith(("http://", "https://"))


def redact(url: str) -> str:
    """``url`` without user info and with query values masked: safe for logs and the report."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    query = "&".join(f"{key}=***" for key, _ in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


@dataclass(frozen=True)
class DicomwebLocation:
    """A DICOMweb service root and what to take from it.

    Parameters
    ----------
    root:
        Service root, e.g. ``https://pacs.example.org/dicom-web``.
    study_uid, series_uid:
        The study, or the series of that study, named by the URL path.
    filters:
        QIDO-RS search filters of a ``.../studies?...`` or ``.../series?...`` URL (every matching series is taken).
    """

    root: str
    study_uid: str | None = None
    series_uid: str | None = None
    filters: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not is_dicomweb_url(self.root):
            raise ConfigError(f"DICOMweb root {redact(self.root)} must start with http:// or https://")
        if self.series_uid is not None and self.study_uid is None:
            raise ConfigError("a DICOMweb series needs its study: .../studies/<study>/series/<series>")

    @classmethod
    def parse_input(cls, url: str) -> DicomwebLocation:
        """Parse an input URL: ``ROOT/studies/<study>``, ``ROOT/studies/<study>/series/<series>``,
        ``ROOT/studies?<QIDO filters>`` or ``ROOT/series?<QIDO filters>``."""
        parts = _checked(url)
        match = _PATH.match(parts.path)
        filters = dict(parse_qsl(parts.query, keep_blank_values=False))
        if match is None or (match["study"] is None and not filters):
            raise ConfigError(
                f"DICOMweb input {redact(url)} names no study, series or query: use ROOT/studies/<StudyInstanceUID>"
                f"[/series/<SeriesInstanceUID>] or ROOT/studies?<attribute>=<value> (QIDO-RS filters)"
            )
        if match["study"] is not None and filters:
            raise ConfigError(f"DICOMweb input {redact(url)}: give a study/series path or a query, not both")
        root = urlunsplit((parts.scheme, parts.netloc, match["root"], "", ""))
        return cls(root, match["study"], match["series"], filters)

    @classmethod
    def parse_root(cls, url: str) -> DicomwebLocation:
        """Parse a service root (the ``--push`` target), e.g. ``https://host/dicom-web``."""
        parts = _checked(url)
        if parts.query or _PATH.match(parts.path):
            raise ConfigError(
                f"--push takes the DICOMweb service root (e.g. https://host/dicom-web), not {redact(url)}"
            )
        return cls(urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", "")))

    def describe(self) -> dict[str, object]:
        """JSON-ready summary for the report (query values masked: they may hold PHI)."""
        return {
            "server": redact(self.root),
            "study_uid": self.study_uid,
            "series_uid": self.series_uid,
            "query": sorted(self.filters),
        }


def _checked(url: str) -> SplitResult:
    parts = urlsplit(url)
    if not is_dicomweb_url(url) or not parts.hostname:
        raise ConfigError(f"{redact(url)} is not a DICOMweb URL (http:// or https:// with a host)")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            f"credentials in the URL {redact(url)} are refused (command lines are visible to every user): set "
            "MHUB_DICOMWEB_USER and MHUB_DICOMWEB_PASSWORD, MHUB_DICOMWEB_TOKEN or MHUB_DICOMWEB_CREDENTIALS instead"
        )
    if parts.fragment:
        raise ConfigError(f"DICOMweb URL {redact(url)} must not have a #fragment")
    return parts
