"""DICOMweb failures as actionable messages, with no credentials or query values in them."""

from __future__ import annotations

import requests
import retrying

from mhubio.core.errors import MhubError
from mhubio.core.exitcodes import ExitCode
from mhubio.dicomweb.credentials import CA_BUNDLE_ENV, FILE_ENV, TOKEN_ENV, USER_ENV
from mhubio.dicomweb.location import redact

TRANSFER_ERRORS = (requests.RequestException, retrying.RetryError, ValueError)
"""What a DICOMweb request can raise: HTTP and network errors, retries used up, an unparsable response."""


class DicomwebError(MhubError):
    """The input DICOMweb server could not be used (unreachable, TLS failure, credentials refused)."""

    exit_code = ExitCode.DICOMWEB_ERROR


def explain(exc: BaseException, server: str) -> str:
    """One sentence saying what went wrong with a request to ``server`` and what to do about it."""
    where = redact(server)
    if isinstance(exc, retrying.RetryError):
        response = exc.last_attempt.value
        if isinstance(response, requests.Response):
            return f"{where} answered HTTP {response.status_code} ({response.reason}) to every retry"
        return f"{where}: retries used up"
    if isinstance(exc, requests.exceptions.SSLError):
        return (
            f"TLS verification of {where} failed (certificate not trusted, expired or for another host): "
            f"set {CA_BUNDLE_ENV} to the CA file that signed the server's certificate"
        )
    if isinstance(exc, requests.exceptions.Timeout):
        return f"{where} did not answer in time"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return f"cannot connect to {where} (server down, wrong host or port, or a firewall)"
    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        status = exc.response.status_code
        if status in (401, 403):
            return (
                f"{where} refused the credentials (HTTP {status}): check {USER_ENV}/MHUB_DICOMWEB_PASSWORD, "
                f"{TOKEN_ENV} or {FILE_ENV}"
            )
        return f"{where} answered HTTP {status} ({exc.response.reason})"
    return f"{where}: {type(exc).__name__}"


def is_server_problem(exc: BaseException) -> bool:
    """Whether ``exc`` concerns the server as a whole (network, TLS, credentials) rather than one resource."""
    if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
        return True
    response = getattr(exc, "response", None)
    refused = response is not None and response.status_code in (401, 403)
    return isinstance(exc, requests.exceptions.HTTPError) and refused
