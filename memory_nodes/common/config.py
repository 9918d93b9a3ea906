"""Typed configuration: one vocabulary for the pip package and the ROS nodes.

config/*.yaml is keyed ``/**/<node_name>: ros__parameters: <section>: {name: value}`` (rcl's wildcard: the
section applies to that node under any namespace). ROS flattens that to parameters named ``section.name``;
the core reads the same sections into validated dataclasses:

    cfg = config_from_dict(LiftingConfig, load_node_params("config/perception.yaml", "perception")["lifting"])

``node_key_matches(key, "/robot1/planner")`` is rcl's rule for which params-file sections apply to a node
(the launcher's and the nodes' warnings use it, so both agree with what rcl applies).

A dataclass may define ``validate(self)`` raising ConfigError. Unknown keys and wrong types fail fast.
"""
from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Type, TypeVar

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


def node_fqn(name: str, namespace: str = "") -> str:
    """``/ns/name`` as rcl spells a node's fully qualified name (``/name`` without a namespace)."""
    ns = namespace.strip("/")
    return f"/{ns}/{name}" if ns else f"/{name}"


def node_key_matches(key: Any, fqn: str) -> bool:
    """Whether params-file section ``key`` applies to the node ``fqn`` (``/robot1/planner``), by rcl's rule
    (rclpy and rclcpp, Humble and later): a key without a leading ``/`` gets one; ``/*`` is one namespace
    level or the name (``[A-Za-z0-9_]+``), ``/**`` any number of levels (none too); the whole name must match.
    So ``/**`` is every node, ``/**/planner`` the planner under any namespace, bare ``planner`` only
    ``/planner``, ``/robot1/planner`` only that one, ``/*/planner`` a planner one level down."""
    if not isinstance(key, str) or not key:
        return False
    name = key if key.startswith("/") else "/" + key
    # rcl replaces every "/*" by "(/\w+)", which turns "/**" into "(/\w+)*"; the rest is literal
    pattern = r"(/[A-Za-z0-9_]+)".join(re.escape(part).replace(r"\*", "*") for part in name.split("/*"))
    try:
        return re.fullmatch(pattern, fqn) is not None
    except re.error:
        return False


def is_node_specific(key: Any) -> bool:
    """A section key that names a node (``planner``, ``/**/planner``), not one for every node (``/**``)."""
    return isinstance(key, str) and bool(key.strip("/")) and key.rstrip("/").rsplit("/", 1)[-1] not in ("*", "**")


def matching_keys(data: Mapping[Any, Any], fqn: str) -> List[str]:
    """The section keys of a params file's top level that apply to node ``fqn``, in file order."""
    return [k for k, v in data.items() if isinstance(v, Mapping) and node_key_matches(k, fqn)]


def _merge(into: Dict[str, Any], block: Mapping[str, Any]) -> None:
    """Nested merge, as rcl merges flattened names (a later section overrides single values, not sections)."""
    for k, v in block.items():
        if isinstance(v, Mapping) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = dict(v) if isinstance(v, Mapping) else v


def load_node_params(path: str | Path, node_name: str, namespace: Optional[str] = None) -> Dict[str, Any]:
    """The nested ``ros__parameters`` that apply to one node in a ROS params file, merged in file order as
    rcl does (``/**``, ``/**/node``, ``node``, ``/ns/node``, ...: see node_key_matches). ``namespace``: the
    node's namespace; None (pure callers: benches, tests) also takes a ``/ns/node`` section of any ``ns``."""
    data = load_yaml(path)
    fqn = node_fqn(node_name, namespace or "")
    merged: Dict[str, Any] = {}
    for key, block in data.items():
        if not isinstance(block, Mapping):
            continue
        applies = node_key_matches(key, fqn) or (
            namespace is None and isinstance(key, str) and key.startswith("/")
            and key.rstrip("/").rsplit("/", 1)[-1] == node_name)
        if applies:
            _merge(merged, block.get("ros__parameters", {}) or {})
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
