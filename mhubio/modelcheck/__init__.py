"""Contributor checks of a model folder: model card, manifest, workflows, Dockerfile."""

from mhubio.modelcheck.check import Finding, check_model
from mhubio.modelcheck.dockerfile import check_dockerfile
from mhubio.modelcheck.scaffold import new_model

__all__ = ["Finding", "check_dockerfile", "check_model", "new_model"]
