"""Typed module parameters."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Params(BaseModel):
    """Base class of module parameters.

    Subclass it inside a module as ``class Params(Params)`` and declare each
    parameter as a typed field with its default; unknown or ill-typed values
    are configuration errors.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
