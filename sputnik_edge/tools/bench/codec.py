"""Frozen dataclasses to and from the plain JSON of bench.json, driven by their type hints.

Field metadata (``key``, ``omit_none``, ``flatten``) keeps the JSON shape that existing results
and readers use: keys that are not identifiers (``tar_at_far_1e-2``), keys present only when
measured, and a record's keys merged into its parent (a stage's ``per`` next to its statistics).
Loading is strict: an unknown key or a missing required one is an error naming the path, so the
types and the files cannot drift apart silently.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

T = TypeVar("T")


class BenchFormatError(ValueError):
    """A bench JSON file that does not have the shape of a bench result."""


# Field metadata; use as ``field(default=None, metadata=OMIT)`` and ``field(metadata=FLAT)``.
OMIT: Mapping[str, Any] = MappingProxyType({"omit_none": True})  # absent from the JSON while None
FLAT: Mapping[str, Any] = MappingProxyType({"flatten": True})  # keys merged into the parent's object


def json_key(name: str, *, omit_none: bool = False) -> dict[str, Any]:
    """Metadata: this field is ``name`` in the JSON (a key that is not an identifier)."""
    return {"key": name, "omit_none": omit_none}


def _key(f: dataclasses.Field[Any]) -> str:
    return str(f.metadata.get("key", f.name))


def to_json(value: Any) -> Any:
    """Plain JSON values (dict, list, str, int, float, bool, None) of a dataclass tree."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            if v is None and f.metadata.get("omit_none"):
                continue
            if f.metadata.get("flatten"):
                out.update(to_json(v))
            else:
                out[_key(f)] = to_json(v)
        return out
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _keys_of(cls: type) -> set[str]:
    keys: set[str] = set()
    for f in dataclasses.fields(cls):
        if f.metadata.get("flatten"):
            keys |= _keys_of(_hints(cls)[f.name])
        else:
            keys.add(_key(f))
    return keys


def from_json(tp: type[T], data: Any, path: str = "$") -> T:
    """``data`` (parsed JSON) as an instance of ``tp``; BenchFormatError on a shape mismatch."""
    return typing.cast(T, _load(tp, data, path))


def _load(tp: Any, data: Any, path: str) -> Any:
    if tp is Any:
        return data
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        arms = [a for a in get_args(tp) if a is not type(None)]
        if data is None:
            if len(arms) < len(get_args(tp)):
                return None
            raise BenchFormatError(f"{path}: null where {tp} is expected")
        if len(arms) == 1:
            return _load(arms[0], data, path)
        for arm in arms:
            try:
                return _load(arm, data, path)
            except BenchFormatError:
                continue
        raise BenchFormatError(f"{path}: {data!r} is none of {tp}")
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _load_dataclass(tp, data, path)
    if origin is dict:
        key_t, val_t = get_args(tp)
        if not isinstance(data, dict):
            raise BenchFormatError(f"{path}: expected an object, got {type(data).__name__}")
        return {_load(key_t, k, path): _load(val_t, v, f"{path}.{k}") for k, v in data.items()}
    if origin in (list, tuple):
        if not isinstance(data, list):
            raise BenchFormatError(f"{path}: expected a list, got {type(data).__name__}")
        item_t = get_args(tp)[0]
        items = [_load(item_t, v, f"{path}[{i}]") for i, v in enumerate(data)]
        return items if origin is list else tuple(items)
    return _load_scalar(tp, data, path)


def _load_scalar(tp: Any, data: Any, path: str) -> Any:
    # bool is an int in Python, never in a bench file. An int stays an int where a float is
    # expected (a float field may hold one), so a file reads and writes back unchanged.
    if tp is float and isinstance(data, int | float) and not isinstance(data, bool):
        return data
    if tp is int and isinstance(data, int) and not isinstance(data, bool):
        return data
    if tp in (str, bool) and type(data) is tp:
        return data
    raise BenchFormatError(f"{path}: expected {getattr(tp, '__name__', tp)}, got {data!r}")


def _load_dataclass(cls: type, data: Any, path: str) -> Any:
    if not isinstance(data, dict):
        raise BenchFormatError(f"{path}: expected an object, got {type(data).__name__}")
    unknown = set(data) - _keys_of(cls)
    if unknown:
        raise BenchFormatError(f"{path}: unknown key(s) {', '.join(sorted(unknown))} for {cls.__name__}")
    kwargs: dict[str, Any] = {}
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("flatten"):
            sub = hints[f.name]
            kwargs[f.name] = _load(sub, {k: v for k, v in data.items() if k in _keys_of(sub)}, path)
            continue
        key = _key(f)
        if key in data:
            kwargs[f.name] = _load(hints[f.name], data[key], f"{path}.{key}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise BenchFormatError(f"{path}: missing key {key!r} for {cls.__name__}")
    return cls(**kwargs)
