"""Text from data made safe for the console and log files.

File names, header values and messages quoting them are written by devices and tools
that may be broken or hostile: terminal control sequences in them are shown as
visible escapes, and console markup (``rich`` interprets ``[tags]``) is escaped.
"""

from __future__ import annotations

import logging
import re

from rich.markup import escape

__all__ = ["SafeFormatter", "console_text", "plain_text"]

# C0 controls (but tab and newline), DEL and C1 controls, including ESC and CSI.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain_text(text: object) -> str:
    """``text`` with terminal control characters shown as ``\\xNN`` escapes."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def console_text(text: object) -> str:
    """``text`` safe to embed in a ``rich`` markup string: controls and markup escaped."""
    return escape(plain_text(text))


class SafeFormatter(logging.Formatter):
    """A log formatter whose output carries no terminal control characters."""

    def format(self, record: logging.LogRecord) -> str:
        """Format ``record`` and escape control characters in the result."""
        return plain_text(super().format(record))
