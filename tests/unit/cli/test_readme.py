"""README promises that must stay true."""

import re
from pathlib import Path

from mhubio.core.exitcodes import ExitCode

README = Path(__file__).resolve().parents[3] / "README.md"


def test_exit_code_table_matches_enum():
    text = README.read_text()
    table = text.split("<!-- exit-codes:start -->")[1].split("<!-- exit-codes:end -->")[0]
    rows = dict(re.findall(r"^\|\s*(\d+)\s*\|\s*(.+?)\s*\|$", table, flags=re.M))
    assert rows == {str(int(code)): code.description for code in ExitCode}


def test_readme_starts_with_install_and_test_commands():
    block = README.read_text().split("```bash")[1].split("```")[0]
    commands = [line for line in block.splitlines() if line.strip() and not line.startswith("#")]
    assert commands[0].startswith("bash .ci/install.sh")
    assert commands[1] == ".venv/bin/python -m pytest -q"
    assert ".venv/bin/python -m pytest -q" in (README.parent / ".ci" / "run").read_text()
