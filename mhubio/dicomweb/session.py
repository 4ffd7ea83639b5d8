"""A DICOMweb client with authentication, TLS verification and retries with backoff."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from http import HTTPStatus

import requests
from dicomweb_client import DICOMwebClient
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from mhubio.dicomweb.credentials import Credentials

# dicomweb-client and urllib3 log request headers and URLs (credentials, query values) at debug level
for _name in ("dicomweb_client", "urllib3"):
    logging.getLogger(_name).setLevel(logging.WARNING)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently transient failures are retried (exponential backoff).

    Parameters
    ----------
    attempts:
        Tries per request, the first included.
    backoff_s:
        Wait before the second try; doubled before each further one.
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


def connect(root: str, credentials: Credentials, retry: RetryPolicy | None = None) -> DICOMwebClient:
    """A client of the DICOMweb service at ``root``.

    Refused connections are retried by the HTTP adapter and transient HTTP answers (408, 429, 502, 503, 504) by the
    client, both with exponential backoff; TLS failures and other answers are not retried.
    """
    retry = retry or RetryPolicy()
    session = requests.Session()
    credentials.apply(session)
    adapter = HTTPAdapter(max_retries=Retry(
        total=None, connect=retry.attempts - 1, read=0, status=0, other=0, redirect=3,
        backoff_factor=retry.backoff_s, allowed_methods=None, raise_on_status=False,
    ))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    client = DICOMwebClient(root, session=session, timeout=retry.timeout_s)
    client.set_http_retry_params(
        retry=retry.attempts > 1, max_attempts=retry.attempts,
        wait_exponential_multiplier=max(1, int(retry.backoff_s * 1000)), retriable_error_codes=TRANSIENT_STATUS,
    )
    return client
