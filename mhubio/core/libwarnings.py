"""Warnings of third-party libraries go to the series log, with quoted header values redacted.

pydicom and highdicom quote the offending value when they warn about a header
(``Invalid value for VR PN: 'DOE^JOHN'``), through :mod:`warnings` and through their
loggers, which Python prints on stderr when nobody handles them.  While a step runs,
both are captured, their quoted values and the series' known identifying values
replaced by ``<redacted>``, and written to the series log; the console shows nothing.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

__all__ = ["LIBRARY_LOGGERS", "captured_library_warnings", "redact"]

LIBRARY_LOGGERS = ("pydicom", "highdicom", "SimpleITK", "nibabel", "dcmqi")
REDACTED = "<redacted>"
_QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"")


def redact(message: str, values: Iterable[str] = ()) -> str:
    """``message`` with quoted text and each of ``values`` (3 characters or more) replaced by ``<redacted>``."""
    text = _QUOTED.sub(REDACTED, message)
    for value in sorted({v for v in values if v and len(v) >= 3}, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    return text


class _Redirect(logging.Handler):
    def __init__(self, target: logging.LoggerAdapter | logging.Logger, values: tuple[str, ...]) -> None:
        super().__init__(logging.DEBUG)
        self.target, self.values, self.count = target, values, 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            self.count += 1
        self.target.log(record.levelno, "%s: %s", record.name, redact(record.getMessage(), self.values))


@contextmanager
def captured_library_warnings(
    target: logging.LoggerAdapter | logging.Logger, sensitive: Iterable[str] = ()
) -> Iterator[list[int]]:
    """Capture library warnings and log records in the block and log them, redacted, to ``target``.

    Yields a one-element list that holds, after the block, the number of warnings captured.
    """
    values = tuple(sensitive)
    handler = _Redirect(target, values)
    loggers = [logging.getLogger(name) for name in LIBRARY_LOGGERS]
    saved = [(lg.handlers[:], lg.propagate) for lg in loggers]
    count = [0]
    for lg in loggers:
        lg.handlers = [handler]
        lg.propagate = False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield count
    finally:
        for lg, (handlers, propagate) in zip(loggers, saved, strict=True):
            lg.handlers, lg.propagate = handlers, propagate
        for item in caught:
            target.warning("%s: %s", item.category.__name__, redact(str(item.message), values))
        count[0] = len(caught) + handler.count
