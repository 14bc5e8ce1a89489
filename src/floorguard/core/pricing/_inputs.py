"""Input normalisation shared by the pricing kernels.

Every public pricing function accepts scalars or arrays that broadcast
together. ``kind`` is ``"call"``/``"put"`` (case-insensitive; ``"c"``/``"p"``
accepted), an array of those, or an array of +1 (call) / -1 (put).
Bad input raises :class:`floorguard.exceptions.ValidationError` naming the
field; nothing is silently skipped.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from floorguard._typing import FloatArray
from floorguard.exceptions import ValidationError

_CALL_NAMES = ("call", "c", "Call", "CALL", "C")
_PUT_NAMES = ("put", "p", "Put", "PUT", "P")


def kind_sign(kind: Any) -> FloatArray:
    """+1.0 for calls, -1.0 for puts, as a float array of ``kind``'s shape.

    Raises
    ------
    ValidationError
        If any element is not a recognised option kind.
    """
    if isinstance(kind, str):
        k = kind.strip().lower()
        if k in ("call", "c"):
            return np.asarray(1.0)
        if k in ("put", "p"):
            return np.asarray(-1.0)
        raise ValidationError.for_field("kind", f"must be 'call' or 'put', got {kind!r}")
    arr = np.asarray(kind)
    if arr.dtype.kind in "iuf":
        sign = arr.astype(np.float64)
        if not np.all((sign == 1.0) | (sign == -1.0)):
            raise ValidationError.for_field("kind", "numeric kinds must be +1 (call) or -1 (put)")
        return sign
    if arr.dtype.kind == "b":
        raise ValidationError.for_field(
            "kind", "must be 'call'/'put' strings or +1/-1, not booleans"
        )
    if arr.dtype.kind not in "UO":
        raise ValidationError.for_field("kind", f"unsupported dtype {arr.dtype}")
    if arr.dtype.kind == "O":
        try:
            arr = arr.astype(str)
        except (TypeError, ValueError) as exc:  # pragma: no cover - exotic objects
            raise ValidationError.for_field("kind", "must contain 'call' or 'put' strings") from exc
    is_call = arr == "call"
    is_put = arr == "put"
    if not np.all(is_call | is_put):
        # slower path: tolerate case and the one-letter forms
        low = np.char.lower(np.char.strip(arr))
        is_call = (low == "call") | (low == "c")
        is_put = (low == "put") | (low == "p")
        if not np.all(is_call | is_put):
            bad = arr[~(is_call | is_put)].ravel()[0]
            raise ValidationError.for_field("kind", f"must be 'call' or 'put', got {bad!r}")
    return np.where(is_call, 1.0, -1.0)


def as_float(value: Any, field: str) -> FloatArray:
    """``value`` as a float64 array; raises ValidationError if not numeric."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationError.for_field(field, f"must be numeric, got {value!r}") from exc
    return arr


def check_finite(arr: FloatArray, field: str) -> None:
    """Raise ValidationError unless every element of ``arr`` is finite."""
    if not np.all(np.isfinite(arr)):
        raise ValidationError.for_field(field, "must be finite (no NaN or infinity)")


def check_positive(arr: FloatArray, field: str) -> None:
    """Raise unless every element is finite and > 0."""
    if not np.all(arr > 0.0) or not np.all(np.isfinite(arr)):
        raise ValidationError.for_field(field, "must be finite and > 0")


def check_nonnegative(arr: FloatArray, field: str) -> None:
    """Raise unless every element is finite and >= 0."""
    if not np.all(arr >= 0.0) or not np.all(np.isfinite(arr)):
        raise ValidationError.for_field(field, "must be finite and >= 0")


def broadcast(**arrays: FloatArray) -> tuple[FloatArray, ...]:
    """Broadcast the arrays together; ValidationError names the shapes if impossible."""
    try:
        return tuple(np.broadcast_arrays(*arrays.values()))
    except ValueError as exc:
        shapes = ", ".join(f"{k}{np.shape(v)}" for k, v in arrays.items())
        raise ValidationError.for_field("shape", f"inputs do not broadcast: {shapes}") from exc


def all_scalar(*values: Any) -> bool:
    """True when every value is a Python/numpy scalar (0-d)."""
    return all(np.ndim(v) == 0 for v in values)


def out(value: FloatArray, scalar: bool) -> FloatArray | float:
    """Return a Python float for all-scalar calls, else the array."""
    if scalar:
        return float(value)
    return value
