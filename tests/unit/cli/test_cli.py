"""The ``mhub`` command line: explicit sub-command list, lazy imports, exit codes of every sub-command."""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mhubio.cli import COMMANDS, main
from mhubio.core.config import models_root
from mhubio.core.exitcodes import ExitCode

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_each_module_registers_its_sub_command(command):
    subparsers = argparse.ArgumentParser().add_subparsers()
    importlib.import_module(command.module).register(subparsers)
    assert list(subparsers.choices) == [command.name]


def test_mhub_run_imports_no_image_tooling(tmp_path):
    (tmp_path / "in").mkdir()
    script = textwrap.dedent(
        f"""
        import json, sys
        from mhubio.cli import build_parser, main
        build_parser()
        build_parser(["run", "--help"])
        code = main(["run", "--model", "thresholder", "-i", {str(tmp_path / "in")!r}, "-o", {str(tmp_path / "out")!r},
                     "--quiet"])
        print(json.dumps([code, sorted(m for m in sys.modules if m.startswith("mhubio."))]))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=True,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    code, modules = json.loads(done.stdout.strip().splitlines()[-1])
    assert code == ExitCode.NO_INPUT
    assert "mhubio.core.runner" in modules
    assert [m for m in modules if m.startswith(("mhubio.containers", "mhubio.modelcheck", "mhubio.modeltest"))] == []


def test_help_lists_every_sub_command(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    listing = capsys.readouterr().out
    assert all(command.name in listing for command in COMMANDS)


def test_unknown_sub_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["frobnicate"])
    assert exit_.value.code == ExitCode.CONFIG_ERROR
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_check_config_usage_error_exits_2(capsys):
    assert main(["check-config"]) == ExitCode.CONFIG_ERROR
    assert "either a workflow file or --model" in capsys.readouterr().err


def test_check_model_exit_codes(tmp_path, capsys):
    assert main(["check-model", "thresholder"]) == ExitCode.SUCCESS
    assert main(["check-model", "no_such_model"]) == ExitCode.CONFIG_ERROR
    assert "unknown model 'no_such_model'" in capsys.readouterr().err
    broken = tmp_path / "thresholder"
    shutil.copytree(models_root() / "thresholder", broken)
    card = json.loads((broken / "meta.json").read_text())
    del card["info"]
    (broken / "meta.json").write_text(json.dumps(card))
    assert main(["check-model", str(broken)]) == ExitCode.CHECK_FAILED
    assert "FAIL meta.json" in capsys.readouterr().out


def test_model_test_without_cases_is_a_usage_error(tmp_path, monkeypatch, capsys):
    shutil.copytree(models_root() / "thresholder", tmp_path / "thresholder")
    manifest = tmp_path / "thresholder" / "mhub.toml"
    manifest.write_text(manifest.read_text().split("[[test]]")[0])
    monkeypatch.setenv("MHUB_MODELS_DIR", str(tmp_path))
    assert main(["test", "thresholder"]) == ExitCode.CONFIG_ERROR
    assert "no test cases" in capsys.readouterr().err
    assert main(["test", "no_such_model"]) == ExitCode.CONFIG_ERROR


def test_image_tooling_does_not_import_the_cli():
    script = textwrap.dedent(
        """
        import pkgutil, importlib, sys
        import mhubio.containers
        for info in pkgutil.iter_modules(mhubio.containers.__path__):
            importlib.import_module(f"mhubio.containers.{info.name}")
        print(sorted(m for m in sys.modules if m == "mhubio.cli" or m.startswith("mhubio.cli.")))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=True,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert done.stdout.strip().splitlines()[-1] == "[]"
