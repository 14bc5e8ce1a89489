"""Fast plain-dict builders for the domain's ``to_dict`` methods.

``dataclasses.asdict`` deep-copies every field value and walks it with
``isinstance`` checks; the drafts' cleaning pass (``policy._clean``) walks the
result a second time. The quote path builds a few hundred such values per
draft, so both kernels here take the common case (exact plain types: ``str``,
``int``, ``float``, ``bool``, ``None``, ``dict``, ``list``, ``tuple``, dates)
in one pass and raise :class:`NotPlain` on anything else; the callers then
fall back to their slow reference (``asdict`` / ``_clean``), so the output is
the reference's in every case. ``tests/domain/test_plain_records.py`` checks
both kernels against the references.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
import types
from typing import Any

import numpy as np

__all__ = ["NotPlain", "asdict_plain", "clean_plain", "copy_plain"]

#: types ``copy.deepcopy`` returns as they are (the set Python 3.12's ``asdict`` short-cuts)
_ATOMIC = frozenset({
    type(None), bool, int, float, str, complex, bytes, type(Ellipsis), type(NotImplemented),
    types.CodeType, types.BuiltinFunctionType, types.FunctionType, type, range, property,
})


_isfinite = math.isfinite


class NotPlain(Exception):
    """A value outside the fast kernels' plain types: use the reference."""


@functools.lru_cache(maxsize=256)
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def copy_plain(v: Any) -> Any:
    """``copy.deepcopy(v)`` for plain values (else :class:`NotPlain`).

    Plain values: the atomic types ``deepcopy`` returns unchanged, and exact
    ``dict``/``list``/``tuple`` of plain values (copied). Unlike ``deepcopy``
    it does not keep shared sub-objects shared (a plain tree has none that
    matter: they are equal copies).
    """
    t = type(v)
    if t in _ATOMIC:
        return v
    if t is dict:
        out = {}
        for k, x in v.items():
            if type(k) not in _ATOMIC:
                k = copy_plain(k)
            out[k] = x if type(x) in _ATOMIC else copy_plain(x)
        return out
    if t is list:
        return [x if type(x) in _ATOMIC else copy_plain(x) for x in v]
    if t is tuple:
        return tuple(x if type(x) in _ATOMIC else copy_plain(x) for x in v)
    raise NotPlain(t.__name__)


def asdict_plain(obj: Any) -> dict[str, Any]:
    """``dataclasses.asdict(obj)`` when every field holds plain values (else :class:`NotPlain`).

    Plain values: the atomic types ``deepcopy`` returns unchanged, and exact
    ``dict``/``list``/``tuple`` of plain values (copied, as ``asdict`` does).
    A nested dataclass, a subclass of a container or any other object raises.
    """
    return {name: copy_plain(getattr(obj, name)) for name in _field_names(type(obj))}


def clean_plain(obj: Any) -> Any:
    """``policy._clean(obj)`` for plain values (else :class:`NotPlain`).

    Non-finite floats become ``None``, dict keys ``str``, lists and tuples
    lists, dates and datetimes ISO text, numpy scalars Python scalars (a
    numpy float, being a ``float``, stays as it is when finite, as in
    ``_clean``). Any other object raises.
    """
    t = type(obj)
    if t is float:
        return obj if _isfinite(obj) else None
    if t is str or t is int or t is bool or obj is None:
        return obj
    if t is dict:
        out = {}
        for k, v in obj.items():
            if type(k) is not str:
                k = str(k)
            tv = type(v)
            if tv is float:
                out[k] = v if _isfinite(v) else None
            elif tv is str or tv is int or tv is bool or v is None:
                out[k] = v
            else:
                out[k] = clean_plain(v)
        return out
    if t is list or t is tuple:
        return [clean_plain(v) for v in obj]
    if t is dt.datetime or t is dt.date:
        return obj.isoformat()
    if isinstance(obj, np.generic):
        if isinstance(obj, float):
            return obj if _isfinite(obj) else None
        return clean_plain(obj.item())
    raise NotPlain(t.__name__)
