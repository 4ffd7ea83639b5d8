"""``mhub run`` with a DICOMweb input and/or a push of the results to a DICOMweb server."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from rich.markup import escape

from mhubio.core.errors import ConfigError, MhubError
from mhubio.core.exitcodes import ExitCode
from mhubio.core.logs import ProgressPrinter
from mhubio.core.module import ModelInfo
from mhubio.core.report import RunReport
from mhubio.core.runner import RunOptions, prepare_chain, run_workflow
from mhubio.dicomweb.credentials import Credentials
from mhubio.dicomweb.download import DownloadResult, download_series
from mhubio.dicomweb.location import DicomwebLocation, is_dicomweb_url, redact
from mhubio.dicomweb.push import push_files
from mhubio.dicomweb.session import RetryPolicy, connect

INPUT_SECTION = "dicomweb_input"
PUSH_SECTION = "dicomweb_push"
_DICOM_SUFFIX = ".dcm"


@dataclass(frozen=True)
class DicomwebOptions:
    """Where the input comes from and where the results go (either may be None)."""

    source: DicomwebLocation | None = None
    push: DicomwebLocation | None = None
    credentials: Credentials = field(default_factory=Credentials)
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        if self.source is None and self.push is None:
            raise ValueError("DicomwebOptions needs a source or a push target")


def run_with_dicomweb(
    config_path: Path, options: RunOptions, dicomweb: DicomwebOptions, progress: ProgressPrinter | None = None,
) -> RunReport:
    """Download the input series (if ``dicomweb.source``), run the workflow, push the outputs (if ``dicomweb.push``).

    The run report gets a ``dicomweb_input`` and a ``dicomweb_push`` section. Series that fail to download are left
    out and make the exit code at least 4; a failed push of any output turns a successful run's code into 7.
    """
    progress = progress or ProgressPrinter()
    download_dir = None
    try:
        if dicomweb.source is not None:
            _check_config(config_path, options)
            download_dir = Path(tempfile.mkdtemp(prefix="mhub-dicomweb-", dir=_scratch_parent(options)))
            progress.note(f"downloading the input from {escape(redact(dicomweb.source.root))}")
            client = connect(dicomweb.source.root, dicomweb.credentials, dicomweb.retry)
            try:
                downloaded = download_series(client, dicomweb.source, download_dir, progress.series_downloaded)
            except MhubError as exc:
                return _report_download_failure(exc, dicomweb.source, options)
            options = dataclasses.replace(options, input_dir=download_dir)
        report = run_workflow(config_path, options, progress)
        if report.exit_code in (ExitCode.CONFIG_ERROR, ExitCode.INTERRUPTED):
            return report
        if dicomweb.source is not None:
            _record_download(report, downloaded)
        if dicomweb.push is not None:
            _push(report, dicomweb, options, progress)
        report.write(options.output_dir, options.input_dir)
        return report
    finally:
        if download_dir is not None and not options.keep_work:
            shutil.rmtree(download_dir, ignore_errors=True)


def _check_config(config_path: Path, options: RunOptions) -> None:
    """Validate the workflow before anything is downloaded (a configuration error reads no data)."""
    scratch = Path(tempfile.mkdtemp(prefix="mhub-check-"))
    try:
        prepare_chain(config_path, options, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _scratch_parent(options: RunOptions) -> Path | None:
    if options.work_dir is None:
        return None
    options.work_dir.mkdir(parents=True, exist_ok=True)
    return options.work_dir


def _report_download_failure(exc: MhubError, source: DicomwebLocation, options: RunOptions) -> RunReport:
    """The report of a run that ended before any series was processed."""
    report = RunReport(ModelInfo("?", "?"), options.workflow, exit_code=exc.exit_code, error=str(exc))
    report.sections[INPUT_SECTION] = source.describe()
    options.output_dir.mkdir(parents=True, exist_ok=True)
    report.write(options.output_dir)
    return report


def _record_download(report: RunReport, result: DownloadResult) -> None:
    report.sections[INPUT_SECTION] = result.to_dict()
    failed = result.failed
    if not failed:
        return
    message = (
        f"{len(failed)} of {len(result.series)} series could not be downloaded (see {INPUT_SECTION} in the report)"
    )
    report.error = f"{report.error}; {message}" if report.error else message
    if report.exit_code == ExitCode.SUCCESS:
        report.exit_code = ExitCode.PARTIAL_FAILURE


def _push(report: RunReport, dicomweb: DicomwebOptions, options: RunOptions, progress: ProgressPrinter) -> None:
    target = dicomweb.push
    assert target is not None
    files = [str(o.path) for i in report.instances for o in i.outputs if str(o.path).endswith(_DICOM_SUFFIX)]
    progress.note(f"pushing {len(files)} DICOM outputs to {escape(redact(target.root))}")
    records = push_files(connect(target.root, dicomweb.credentials, dicomweb.retry), options.output_dir, files)
    report.sections[PUSH_SECTION] = {"server": redact(target.root), "files": [r.to_dict() for r in records]}
    failed = [r for r in records if not r.ok]
    if not failed:
        return
    names = ", ".join(f"{r.path} ({r.status.value}: {r.reason})" for r in failed)
    message = f"push failed for {len(failed)} of {len(records)} outputs: {names}"
    report.error = f"{report.error}; {message}" if report.error else message
    if report.exit_code == ExitCode.SUCCESS:
        report.exit_code = ExitCode.PUSH_FAILED


def parse_options(input_text: str, push_text: str | None) -> DicomwebOptions | None:
    """DICOMweb options from the ``--input`` and ``--push`` values and the environment; None for a plain folder run.

    Raises
    ------
    ConfigError
        A malformed URL, credentials in a URL, or conflicting credential variables.
    """
    if push_text is not None and not is_dicomweb_url(push_text):
        raise ConfigError(f"--push needs an http:// or https:// DICOMweb URL, not {redact(push_text)!r}")
    if push_text is None and not is_dicomweb_url(input_text):
        return None
    return DicomwebOptions(
        source=DicomwebLocation.parse_input(input_text) if is_dicomweb_url(input_text) else None,
        push=DicomwebLocation.parse_root(push_text) if push_text is not None else None,
        credentials=Credentials.from_environment(),
    )
