"""Store a run's DICOM outputs on a DICOMweb server (STOW-RS) and check that each one is found again (QIDO-RS)."""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
import requests
from dicomweb_client import DICOMwebClient
from pydicom.errors import InvalidDicomError

from mhubio.dicomweb.errors import TRANSFER_ERRORS, explain

log = logging.getLogger("mhub")
# STOW-RS answers that refuse the instances themselves: bad request, conflict (none stored), too large, unsupported
_REFUSAL_STATUS = (400, 409, 413, 415)


class PushStatus(enum.Enum):
    """What became of one output file."""

    STORED = "stored"
    """Stored and found again by a QIDO-RS search."""
    REJECTED = "rejected"
    """The server refused the instance (STOW-RS failure or warning for it)."""
    NOT_FOUND = "not_found"
    """Stored according to the server, but not found by the QIDO-RS search that followed."""
    FAILED = "failed"
    """The request failed (network, TLS, credentials, server error after the retries)."""
    UNREADABLE = "unreadable"
    """The output file is not a DICOM file that could be sent."""


@dataclass(frozen=True)
class PushRecord:
    """Outcome of pushing one output file (``path`` relative to the output folder)."""

    path: str
    status: PushStatus
    sop_instance_uid: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the file is on the server."""
        return self.status is PushStatus.STORED

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary for the report."""
        return {"path": self.path, "status": self.status.value, "sop_instance_uid": self.sop_instance_uid,
                "reason": self.reason}


def push_files(client: DICOMwebClient, output_dir: Path, files: Sequence[str]) -> list[PushRecord]:
    """Push each file (paths relative to ``output_dir``), one STOW-RS request each, then look it up by QIDO-RS.

    Transient failures are retried by ``client`` (see :func:`mhubio.dicomweb.session.connect`); one failing file
    does not stop the others.
    """
    records = []
    for relative in files:
        record = _push_one(client, output_dir, relative)
        if not record.ok:
            log.warning("push of %s: %s (%s)", relative, record.status.value, record.reason)
        records.append(record)
    return records


def _push_one(client: DICOMwebClient, output_dir: Path, relative: str) -> PushRecord:
    try:
        dataset = pydicom.dcmread(output_dir / relative)
        uids = (dataset.StudyInstanceUID, dataset.SeriesInstanceUID, dataset.SOPInstanceUID)
    except (OSError, InvalidDicomError, AttributeError) as exc:
        return PushRecord(relative, PushStatus.UNREADABLE, reason=f"{type(exc).__name__}: not a readable DICOM file")
    study, series, sop = (str(u) for u in uids)
    try:
        answer = client.store_instances([dataset], study_instance_uid=study)
    except TRANSFER_ERRORS as exc:
        status = PushStatus.REJECTED if _is_refusal(exc) else PushStatus.FAILED
        return PushRecord(relative, status, sop, explain(exc, client.base_url))
    refusal = _refusal(answer, sop)
    if refusal is not None:
        return PushRecord(relative, PushStatus.REJECTED, sop, refusal)
    try:
        found = client.search_for_instances(
            study_instance_uid=study, series_instance_uid=series, search_filters={"SOPInstanceUID": sop},
            fields=["SOPInstanceUID"],
        )
    except TRANSFER_ERRORS as exc:
        reason = f"stored, but the check failed: {explain(exc, client.base_url)}"
        return PushRecord(relative, PushStatus.FAILED, sop, reason)
    if not any(_sop_uid(item) == sop for item in found):
        return PushRecord(relative, PushStatus.NOT_FOUND, sop, "stored, but a QIDO-RS search does not find it")
    return PushRecord(relative, PushStatus.STORED, sop)


def _refusal(answer: pydicom.Dataset, sop: str) -> str | None:
    """The server's reason for not storing ``sop``, from the STOW-RS response, or None when it was stored."""
    for item in answer.get("FailedSOPSequence", []):
        if str(item.get("ReferencedSOPInstanceUID", "")) == sop:
            reason = item.get("FailureReason")
            return f"failure reason {int(reason):#06x}" if reason is not None else "refused without a reason"
    stored = [str(i.get("ReferencedSOPInstanceUID", "")) for i in answer.get("ReferencedSOPSequence", [])]
    if answer.get("ReferencedSOPSequence") is not None and sop not in stored:
        return "the server's answer does not list the instance as stored"
    return None


def _is_refusal(exc: BaseException) -> bool:
    """Whether a failed STOW-RS request was an answer about the instance (not a network or credential problem)."""
    response = getattr(exc, "response", None)
    return isinstance(exc, requests.HTTPError) and response is not None and response.status_code in _REFUSAL_STATUS


def _sop_uid(item: dict[str, Any]) -> str | None:
    values = item.get("00080018", {}).get("Value") or [None]
    return values[0]
