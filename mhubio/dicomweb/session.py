"""A DICOMweb client with authentication, TLS verification and retries with backoff."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import requests
from dicomweb_client import DICOMwebClient
from requests.adapters import HTTPAdapter

from mhubio.dicomweb.credentials import Credentials

# dicomweb-client and urllib3 log request headers and URLs (credentials, query values) at debug level, and retrying
# logs each failed try with a traceback (URLs again): the outcome is reported by mhubio instead
for _name in ("dicomweb_client", "urllib3", "retrying"):
    logging.getLogger(_name).setLevel(logging.ERROR)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently transient failures are retried (exponential backoff).

    Parameters
    ----------
    attempts:
        Tries per request, the first included.
    backoff_s:
        Wait before the second try; doubled before each further one (4 tries: 0.5 + 1 + 2 s of waiting).
    timeout_s:
        Connect and read timeout of one request.
    """

    attempts: int = 4
    backoff_s: float = 0.5
    timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.backoff_s < 0 or self.timeout_s <= 0:
            raise ValueError(f"invalid retry policy {self}")


TRANSIENT_STATUS = (
    HTTPStatus.REQUEST_TIMEOUT, HTTPStatus.TOO_MANY_REQUESTS, HTTPStatus.BAD_GATEWAY,
    HTTPStatus.SERVICE_UNAVAILABLE, HTTPStatus.GATEWAY_TIMEOUT,
)


class _TrustAdapter(HTTPAdapter):
    """Verifies TLS against one CA file (requests lets REQUESTS_CA_BUNDLE override ``Session.verify``)."""

    def __init__(self, ca_bundle: str) -> None:
        super().__init__()
        self.ca_bundle = ca_bundle

    def send(  # type: ignore[override]  # only ``verify`` is overridden; the rest is passed through as given
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        """Send with verification against ``ca_bundle``, whatever the environment says."""
        kwargs["verify"] = self.ca_bundle
        return super().send(request, **kwargs)


def connect(root: str, credentials: Credentials, retry: RetryPolicy | None = None) -> DICOMwebClient:
    """A client of the DICOMweb service at ``root``.

    Failed connections and transient HTTP answers (408, 429, 502, 503, 504) are retried by dicomweb-client with
    exponential backoff; other HTTP answers are not.
    """
    retry = retry or RetryPolicy()
    session = requests.Session()
    credentials.apply(session)
    if credentials.ca_bundle is not None:
        session.mount("https://", _TrustAdapter(str(credentials.ca_bundle)))
    client = DICOMwebClient(root, session=session, timeout=retry.timeout_s)
    # dicomweb-client waits multiplier * 2**n ms before try n + 1
    client.set_http_retry_params(
        retry=retry.attempts > 1, max_attempts=retry.attempts,
        wait_exponential_multiplier=max(1, int(retry.backoff_s * 500)), retriable_error_codes=TRANSIENT_STATUS,
    )
    return client
