"""Silence pydicom's value warnings while reading untrusted input.

pydicom reports invalid values through ``warnings`` and its logger, quoting the
value, which may be patient data; bad values are handled by the callers instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from pydicom import config


@contextmanager
def quiet_pydicom() -> Iterator[None]:
    """Within the block, pydicom neither warns nor logs about invalid values."""
    previous = config.settings.reading_validation_mode
    config.settings.reading_validation_mode = config.IGNORE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        config.settings.reading_validation_mode = previous
