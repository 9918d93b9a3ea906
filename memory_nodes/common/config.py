"""Typed configuration: one vocabulary for the pip package and the ROS nodes.

config/*.yaml is keyed ``<node_name>: ros__parameters: <section>: {name: value}``. ROS flattens that to
parameters named ``section.name``; the core reads the same sections into validated dataclasses:

    cfg = config_from_dict(LiftingConfig, load_node_params("config/memory_stack.yaml", "perception")["lifting"])

A dataclass may define ``validate(self)`` raising ConfigError. Unknown keys and wrong types fail fast.
"""
from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any, Dict, Mapping, Type, TypeVar

from .errors import ConfigError

T = TypeVar("T")


def _coerce(name: str, value: Any, tp: Any) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin is typing.Union:  # Optional[X]
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(name, value, inner[0])
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{name}: expected a mapping, got {type(value).__name__}")
        # is_dataclass narrows to "instance or class"; a type hint is always the class
        return config_from_dict(typing.cast("Type[Any]", tp), value, prefix=name + ".")
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name}: expected true/false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name}: expected a string, got {value!r}")
        return value
    if origin in (list, tuple, typing.List, typing.Tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{name}: expected a list, got {value!r}")
        item_t = args[0] if args else Any
        items = [_coerce(f"{name}[{i}]", v, item_t) for i, v in enumerate(value)]
        return tuple(items) if origin in (tuple, typing.Tuple) else items
    if origin in (dict, typing.Dict):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{name}: expected a mapping, got {value!r}")
        return dict(value)
    return value


def config_from_dict(cls: Type[T], data: Mapping[str, Any], prefix: str = "") -> T:
    """Build dataclass ``cls`` from a mapping; defaults fill missing keys; unknown keys are errors."""
    if data is None:
        data = {}
    hints = typing.get_type_hints(cls)
    # T is deliberately unbound (callers hold plain Type[T]); fields() raises TypeError for a non-dataclass
    names = {f.name for f in dataclasses.fields(typing.cast(Any, cls))}
    unknown = set(data) - names
    if unknown:
        raise ConfigError(f"{prefix or cls.__name__ + '.'}: unknown key(s) {sorted(unknown)}; "
                          f"known: {sorted(names)}")
    kwargs = {k: _coerce(prefix + k, v, hints[k]) for k, v in data.items()}
    try:
        obj = cls(**kwargs)
    except TypeError as e:
        raise ConfigError(f"{cls.__name__}: {e}") from e
    validate = getattr(obj, "validate", None)
    if callable(validate):
        validate()
    return obj


def validate_sections(cfg: Any) -> None:
    """Call ``validate()`` on every dataclass section of a config that has one (for top-level configs whose
    sections are validated on their own, e.g. when built in code rather than read from YAML)."""
    for f in dataclasses.fields(cfg):
        validate = getattr(getattr(cfg, f.name), "validate", None)
        if dataclasses.is_dataclass(getattr(cfg, f.name)) and callable(validate):
            validate()


def config_to_dict(obj: Any) -> Dict[str, Any]:
    return dataclasses.asdict(obj)


def load_yaml(path: str | Path) -> Dict[str, Any]:
    import yaml
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    with p.open() as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: top level must be a mapping")
    return data


def load_node_params(path: str | Path, node_name: str) -> Dict[str, Any]:
    """The ``ros__parameters`` of one node in a ROS params file (also accepts ``/**`` and ``/ns/node``)."""
    data = load_yaml(path)
    merged: Dict[str, Any] = {}
    for key in ("/**", node_name, "/" + node_name):
        block = data.get(key)
        if isinstance(block, dict):
            merged.update(block.get("ros__parameters", {}) or {})
    for key, block in data.items():
        if isinstance(key, str) and key.startswith("/") and key.endswith("/" + node_name) and isinstance(block, dict):
            merged.update(block.get("ros__parameters", {}) or {})
    return merged


def flatten(d: Mapping[str, Any], prefix: str = "") -> Dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}, as ROS names nested parameters."""
    out: Dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def unflatten(d: Mapping[str, Any]) -> Dict[str, Any]:
    """{"a.b": 1} -> {"a": {"b": 1}}."""
    out: Dict[str, Any] = {}
    for k, v in d.items():
        cur = out
        parts = k.split(".")
        for p in parts[:-1]:
            cur = cur.setdefault(p, {})
        cur[parts[-1]] = v
    return out
