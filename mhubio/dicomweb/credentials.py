"""Credentials for DICOMweb servers, read from the environment or a file (never from the command line).

``MHUB_DICOMWEB_TOKEN``
    a bearer token;
``MHUB_DICOMWEB_USER`` and ``MHUB_DICOMWEB_PASSWORD``
    HTTP basic authentication;
``MHUB_DICOMWEB_CREDENTIALS``
    path of a file whose first line is ``user:password`` or ``Bearer <token>``;
``MHUB_DICOMWEB_CA_BUNDLE``
    a PEM file of the certificate authorities to trust instead of the system ones (an in-house CA); TLS verification
    itself is always on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import requests

from mhubio.core.errors import ConfigError

TOKEN_ENV = "MHUB_DICOMWEB_TOKEN"
USER_ENV = "MHUB_DICOMWEB_USER"
PASSWORD_ENV = "MHUB_DICOMWEB_PASSWORD"
FILE_ENV = "MHUB_DICOMWEB_CREDENTIALS"
CA_BUNDLE_ENV = "MHUB_DICOMWEB_CA_BUNDLE"


@dataclass(frozen=True)
class Credentials:
    """How to authenticate to a DICOMweb server and which certificates to trust.

    Secrets are kept out of ``repr`` so that they cannot reach a log or a traceback.
    """

    user: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    ca_bundle: Path | None = None

    def __post_init__(self) -> None:
        if self.token is not None and self.user is not None:
            raise ConfigError("DICOMweb credentials: give a token or a user and password, not both")
        if (self.user is None) != (self.password is None):
            raise ConfigError(f"DICOMweb credentials: {USER_ENV} and {PASSWORD_ENV} go together")
        if self.ca_bundle is not None and not self.ca_bundle.is_file():
            raise ConfigError(f"{CA_BUNDLE_ENV}: {self.ca_bundle} is not a file")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Credentials:
        """Credentials from the ``MHUB_DICOMWEB_*`` variables (none set: anonymous, system certificates)."""
        env = os.environ if environ is None else environ
        ca = Path(env[CA_BUNDLE_ENV]) if env.get(CA_BUNDLE_ENV) else None
        sources = [name for name in (TOKEN_ENV, FILE_ENV) if env.get(name)]
        if env.get(USER_ENV) or env.get(PASSWORD_ENV):
            sources.append(USER_ENV)
        if len(sources) > 1:
            raise ConfigError(f"DICOMweb credentials are set more than once ({', '.join(sources)}): keep one")
        if env.get(TOKEN_ENV):
            return cls(token=env[TOKEN_ENV], ca_bundle=ca)
        if env.get(FILE_ENV):
            return cls._from_file(Path(env[FILE_ENV]), ca)
        return cls(user=env.get(USER_ENV) or None, password=env.get(PASSWORD_ENV) or None, ca_bundle=ca)

    @classmethod
    def _from_file(cls, path: Path, ca: Path | None) -> Credentials:
        try:
            line = path.read_text().splitlines()[0].strip() if path.stat().st_size else ""
        except OSError as exc:
            raise ConfigError(f"{FILE_ENV}: cannot read {path} ({exc.strerror})") from None
        if line.startswith("Bearer "):
            return cls(token=line.removeprefix("Bearer ").strip(), ca_bundle=ca)
        user, sep, password = line.partition(":")
        if not sep or not user:
            raise ConfigError(f"{FILE_ENV}: the first line of {path} must be 'user:password' or 'Bearer <token>'")
        return cls(user=user, password=password, ca_bundle=ca)

    def apply(self, session: requests.Session) -> None:
        """Set authentication on ``session``."""
        if self.token is not None:
            session.headers["Authorization"] = f"Bearer {self.token}"
        elif self.user is not None:
            session.auth = (self.user, self.password or "")
