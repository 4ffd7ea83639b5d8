"""Model cards (``models/<name>/meta.json``): schema and validation."""

from mhubio.modelcard.validate import load_schema, validate_model_card

__all__ = ["load_schema", "validate_model_card"]
