"""Library warnings: into the series log, redacted; nothing on the console."""

from __future__ import annotations

import logging
import warnings

from pydicom import Dataset, config

from mhubio.core.libwarnings import captured_library_warnings, redact
from mhubio.core.safetext import console_text, plain_text


def test_quoted_values_and_known_identifiers_are_redacted():
    text = redact("Invalid value for VR PN: 'DOE^JOHN' in patient P-0042", ["P-0042"])
    assert "DOE" not in text and "P-0042" not in text
    assert text == "Invalid value for VR PN: <redacted> in patient <redacted>"


def test_pydicom_and_highdicom_warnings_reach_the_log_redacted_and_not_the_console(capfd, caplog):
    series_log = logging.getLogger("mhub.series.1.2.3")
    previous = config.settings.writing_validation_mode
    with caplog.at_level(logging.DEBUG, logger="mhub.series.1.2.3"):
        with captured_library_warnings(series_log, ["SECRET-ID"]) as count:
            config.settings.writing_validation_mode = config.WARN
            try:
                Dataset().PatientName = "DOE^JOHN" * 10  # too long for PN: pydicom warns, quoting it
            finally:
                config.settings.writing_validation_mode = previous
            logging.getLogger("highdicom.seg").warning("patient 'DOE^JOHN' (SECRET-ID) differs")
            warnings.warn("plain warning about SECRET-ID", UserWarning, stacklevel=2)
    out, err = capfd.readouterr()
    assert "DOE" not in out + err and "SECRET" not in out + err
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "DOE" not in logged and "SECRET-ID" not in logged
    assert logged.count("<redacted>") >= 3
    assert count[0] >= 3


def test_console_and_log_text_escape_controls_and_markup():
    assert plain_text("a\x1b[2Jb\x07") == "a\\x1b[2Jb\\x07"
    assert console_text("[red]x[/red]\x1b") == "\\[red]x\\[/red]\\x1b"
