"""``mhub test``: run a model's test cases and compare with the references."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mhubio.cohort.layout import REPORT_HTML_NAME
from mhubio.core.config import workflow_path
from mhubio.core.exitcodes import ExitCode
from mhubio.core.logs import ProgressPrinter
from mhubio.core.naming import RESERVED_PREFIX
from mhubio.core.report import REPORT_NAME
from mhubio.core.runner import RunOptions, run_workflow
from mhubio.modeltest.compare import compare_files
from mhubio.modeltest.spec import ModelTestCase

IGNORED = {REPORT_NAME, REPORT_HTML_NAME}


@dataclass
class CaseResult:
    """Outcome of one test case."""

    case: ModelTestCase
    exit_code: ExitCode
    problems: list[str] = field(default_factory=list)
    compared: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether the run succeeded and every output matched."""
        return self.exit_code == ExitCode.SUCCESS and not self.problems


def output_files(folder: Path) -> dict[str, Path]:
    """Result files of an output folder by relative path (reports, logs, cohort tables and state left out)."""
    return {
        str(p.relative_to(folder)): p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name not in IGNORED and not p.relative_to(folder).parts[0].startswith(RESERVED_PREFIX)
    }


def _run_in_image(image: str, case: ModelTestCase, input_dir: Path, output_dir: Path) -> tuple[ExitCode, str]:
    """Run ``case`` in the model image ``image`` (hardened ``docker run``); exit code and error output."""
    from mhubio.containers.run import run_image

    output_dir.mkdir()
    run = run_image(image, input_dir, output_dir, workflow=case.workflow)
    try:
        code = ExitCode(run.returncode)
    except ValueError:
        code = ExitCode.INTERNAL_ERROR
    return code, run.stderr.strip()[-2000:]


def run_case(
    model: str, case: ModelTestCase, update: bool = False, quiet: bool = True, image: str | None = None
) -> CaseResult:
    """Run one case; compare its outputs with the reference, or (``update``) replace the reference.

    With ``image``, the case runs in that model image instead of in this process.
    """
    with tempfile.TemporaryDirectory(prefix="mhub-test-") as tmp:
        input_dir = case.sample.write(Path(tmp) / "input")
        output_dir = Path(tmp) / "output"
        if image is None:
            report = run_workflow(
                workflow_path(model, case.workflow), RunOptions(input_dir, output_dir, workflow=case.workflow),
                ProgressPrinter(quiet=quiet),
            )
            exit_code, error = report.exit_code, report.error or ""
        else:
            exit_code, error = _run_in_image(image, case, input_dir, output_dir)
        result = CaseResult(case, exit_code)
        if exit_code != ExitCode.SUCCESS:
            result.problems.append(f"run exited {int(exit_code)} ({exit_code.description}): {error}")
            return result
        produced = output_files(output_dir)
        if update:
            shutil.rmtree(case.reference, ignore_errors=True)
            for relative, path in produced.items():
                (case.reference / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, case.reference / relative)
            result.compared = sorted(produced)
            return result
        expected = output_files(case.reference) if case.reference.is_dir() else {}
        if not expected:
            result.problems.append(f"reference folder {case.reference} is missing or empty (create it with --update)")
        missing, extra = sorted(set(expected) - set(produced)), sorted(set(produced) - set(expected))
        result.problems += [f"missing output {m}" for m in missing] + [f"unexpected output {e}" for e in extra]
        for relative in sorted(set(expected) & set(produced)):
            result.compared.append(relative)
            result.problems += compare_files(produced[relative], expected[relative])
        return result
