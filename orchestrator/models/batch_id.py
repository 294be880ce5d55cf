"""Batch ids are exact decimals: neotoma writes 0, 0.5, 0.6, 6.5 and `0.5` is not `0`."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

MAX_BATCH_ID_DIGITS = 12
"""`batch-<id>.log`, `…/cand/b<id>.<n>`: an id like 1e300 would be a 300-digit file name."""


def parse_batch_id(value: Any) -> Decimal:
    """Accept ints, floats (via their shortest repr), and numeric strings; reject the rest."""
    if isinstance(value, bool):
        raise ValueError("batch id must be a number such as 0, 0.5 or 3, not a boolean")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | float | str):
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise ValueError(
                f"batch id must be a number such as 0, 0.5 or 3, got {value!r}"
            ) from exc
    else:
        raise ValueError(f"batch id must be a number such as 0, 0.5 or 3, got {value!r}")
    if not result.is_finite():
        raise ValueError(f"batch id must be a finite number, got {value!r}")
    if result == 0:
        return Decimal(0)
    result = result.normalize()
    digits = len(result.as_tuple().digits)
    if abs(result.adjusted()) >= MAX_BATCH_ID_DIGITS or digits > MAX_BATCH_ID_DIGITS:
        raise ValueError(
            f"batch id {str(value)[:24]!r} is too long: at most {MAX_BATCH_ID_DIGITS} digits "
            "(it names log files and branches)"
        )
    return result


def format_batch_id(value: Decimal) -> str:
    """`0.50` → `0.5`, `3` → `3`: how a human writes it."""
    text = format(value.normalize(), "f") if value != 0 else "0"
    return text


def batch_id_json(value: Decimal) -> int | float:
    """JSON form as the seed writes it: an int when integral, else a float."""
    return int(value) if value == value.to_integral_value() else float(value)


BatchId = Annotated[
    Decimal,
    BeforeValidator(parse_batch_id),
    PlainSerializer(batch_id_json, return_type=int | float, when_used="json"),
    WithJsonSchema({"type": "number"}),
]
