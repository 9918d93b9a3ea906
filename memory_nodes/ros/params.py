"""Typed parameters: a node's config dataclasses <-> its ROS 2 parameters, declared and read in one place.

    PARAMETERS = (Section(MemoryConfig, ranges={"vocab.min_model_score": (0.0, 1.0), ...}),   # store.path, ...
                  Section(MemoryNodeConfig, "node."))                                        # node.flush_period_s
    params = NodeParameters(node)
    params.declare_sections(PARAMETERS)
    params.declare_value("data_dir", "data", "folder of the store")
    cfg = params.read(MemoryConfig)                       # validated; a ConfigError names the bad key

Names: the fields of nested dataclasses become dotted names, as config/*.yaml nests them (ROS flattens
nested YAML the same way); a mapping field (``staleness.prior_rate_per_day``) is one parameter per entry.
Each parameter gets a ParameterDescriptor: the description is the field's comment in its dataclass (else
its name), the type comes from the type hint (an empty list is declared by type only), ``read_only`` is set
(the nodes read their configuration once) and a range where the node states one (``ranges``: name ->
(low, high), None = unbounded; only ranges that validate() enforces exactly, tests/test_ros_params.py
checks each against validate()).

Overrides. A node created with ``automatically_declare_parameters_from_overrides=True`` has every key of
its YAML declared (without a descriptor) before ``declare`` runs; ``declare`` re-declares the known ones with
their descriptor, keeping the given value (an integer for a float parameter becomes a float, as
config_from_dict would make it). A key no dataclass knows stays declared as it came: ``read`` reports it
("unknown key(s)", ConfigError) when it lies inside a section the node reads, and ignores it otherwise
(site.yaml's ``/**`` keys). A value the descriptor would reject (wrong type, outside its range) is kept
without the descriptor, so ``read`` reports it through config_from_dict / validate() with their usual
message; a value outside a stated range that validate() does not check is reported by ``read`` itself.

Parameter files that miss the node. ``NodeParameters(node)`` warns once when the process was given parameter
files (``--params-file``; runner.run_node remembers the arguments) and none has a section naming this node
by rcl's matching (``planner`` or ``/**/planner`` for /planner; only ``/**/planner`` or ``/robot1/planner``
for /robot1/planner): then no configured value applied and the code defaults run. ``/**`` sections (inline
launch values, site.yaml) do not count: they never name the node.
"""
from __future__ import annotations

import array
import dataclasses
import functools
import inspect
import io
import math
import textwrap
import tokenize
import typing
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Type, TypeVar

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import (
    InvalidParameterTypeException,
    InvalidParameterValueException,
    ParameterUninitializedException,
)
from rclpy.parameter import Parameter

from memory_nodes.common.config import config_from_dict, is_node_specific, load_yaml, matching_keys, unflatten
from memory_nodes.common.errors import ConfigError

from . import compat

T = TypeVar("T")
Range = Tuple[Optional[float], Optional[float]]          # (low, high), inclusive; None = unbounded

_INT64 = (-(2 ** 63), 2 ** 63 - 1)
_SCALAR = {bool: Parameter.Type.BOOL, int: Parameter.Type.INTEGER, float: Parameter.Type.DOUBLE,
           str: Parameter.Type.STRING}
_ARRAY = {bool: Parameter.Type.BOOL_ARRAY, int: Parameter.Type.INTEGER_ARRAY, float: Parameter.Type.DOUBLE_ARRAY,
          str: Parameter.Type.STRING_ARRAY}


@dataclasses.dataclass(frozen=True)
class ParamSpec:
    """One declared parameter: dotted name, default (None or [] = declared by type only), type, descriptor."""
    name: str
    default: Any
    type: Parameter.Type
    description: str
    read_only: bool = True
    range: Optional[Range] = None

    def descriptor(self) -> ParameterDescriptor:
        d = compat.parameter_descriptor(name=self.name, type=self.type.value, description=self.description,
                                        read_only=self.read_only)
        if self.range is not None:
            lo, hi = self.range
            if self.type == Parameter.Type.INTEGER:
                d.integer_range = [IntegerRange(from_value=_INT64[0] if lo is None else int(lo),
                                                to_value=_INT64[1] if hi is None else int(hi), step=1)]
            else:
                d.floating_point_range = [FloatingPointRange(from_value=-math.inf if lo is None else float(lo),
                                                             to_value=math.inf if hi is None else float(hi),
                                                             step=0.0)]
        return d

    def in_range(self, value: Any) -> bool:
        if self.range is None:
            return True
        lo, hi = self.range
        return (lo is None or value >= lo) and (hi is None or value <= hi)

    def range_text(self) -> str:
        lo, hi = self.range or (None, None)
        return f"[{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]"


@dataclasses.dataclass(frozen=True)
class Section:
    """A config dataclass whose fields are parameters under ``prefix``, with the ranges the node states."""
    cls: type
    prefix: str = ""
    ranges: Mapping[str, Range] = dataclasses.field(default_factory=dict)
    exclude: Tuple[str, ...] = ()


# ------------------------------------------------------------------------------------------ specs


def parameter_type(tp: Any) -> Optional[Parameter.Type]:
    """The ROS parameter type of a field's type hint; None when ROS has no such parameter type."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Union:                         # Optional[X]
        inner = [a for a in args if a is not type(None)]
        return parameter_type(inner[0]) if len(inner) == 1 else None
    if tp in _SCALAR:
        return _SCALAR[tp]
    if origin in (list, tuple) and args:
        return _ARRAY.get(args[0])
    return None


def config_specs(cls: type, prefix: str = "", *, ranges: Optional[Mapping[str, Range]] = None,
                 read_only: bool = True, exclude: Iterable[str] = ()) -> List[ParamSpec]:
    """The parameters of dataclass ``cls`` (defaults of ``cls()``), named ``prefix + dotted path``."""
    ranges = dict(ranges or {})
    specs = _specs(cls, cls(), prefix, ranges, read_only, set(exclude))
    stray = set(ranges) - {s.name for s in specs}
    if stray:
        raise ValueError(f"ranges for parameters {cls.__name__} does not declare: {sorted(stray)}")
    return specs


def _specs(cls: type, inst: Any, prefix: str, ranges: Mapping[str, Range], read_only: bool,
           exclude: set) -> List[ParamSpec]:
    hints = typing.get_type_hints(cls)
    notes = field_comments(cls)
    out: List[ParamSpec] = []
    for f in dataclasses.fields(cls):
        name = prefix + f.name
        if name in exclude:
            continue
        tp, value = hints[f.name], getattr(inst, f.name)
        text = notes.get(f.name) or f.name.replace("_", " ")
        where = f"{cls.__name__} in {cls.__module__}"
        if dataclasses.is_dataclass(tp):
            out += _specs(tp, value, name + ".", ranges, read_only, exclude)
        elif typing.get_origin(tp) is dict:
            item = parameter_type(typing.get_args(tp)[1]) if typing.get_args(tp) else None
            for key, v in (value or {}).items():
                if item is not None:
                    out.append(ParamSpec(f"{name}.{key}", _fit(v, item), item, f"{text}: {key} ({where})",
                                         read_only, ranges.get(f"{name}.{key}")))
        else:
            pt = parameter_type(tp)
            if pt is not None:
                out.append(ParamSpec(name, _fit(value, pt), pt, f"{text} ({where})", read_only, ranges.get(name)))
    return out


@functools.lru_cache(maxsize=None)
def field_comments(cls: type) -> Dict[str, str]:
    """Field name -> its comment in the dataclass source: the comment after the field (with the comment lines
    that continue it), else the comment lines just above it. Empty when the source is not available."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(textwrap.dedent(inspect.getsource(cls))).readline))
    except (OSError, TypeError, tokenize.TokenError, SyntaxError):
        return {}
    trailing: Dict[str, str] = {}
    above: Dict[str, str] = {}
    leading: List[str] = []             # own-line comments waiting for the next field
    current: Optional[str] = None       # the last field, while its trailing comment may continue
    candidate: Optional[str] = None     # the first NAME of a body statement, a field if ':' follows
    body_col: Optional[int] = None
    pos = 0                             # token index within the logical line
    for tok in tokens:
        kind, text, col = tok.type, tok.string, tok.start[1]
        if kind == tokenize.INDENT and body_col is None:
            body_col = len(text)
        if kind == tokenize.COMMENT:
            note = text[1:]
            if tok.line[:col].strip():                      # after code: the statement's own comment
                if current is not None and current not in trailing:
                    trailing[current] = note.strip()
            elif current in trailing and (col > (body_col or 0) or note.startswith("  ")):
                trailing[current] += " " + note.strip()     # continues the comment above it
            else:
                current = None
                leading.append(note.strip())
            continue
        if kind == tokenize.NL:
            if not tok.line.strip():                        # a blank line ends a comment block
                leading, current = [], None
            continue
        if kind in (tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING, tokenize.ENDMARKER):
            continue
        if kind == tokenize.NEWLINE:
            pos = 0
            continue
        pos += 1
        if pos == 1:
            candidate = text if kind == tokenize.NAME and col == body_col else None
            if candidate is None:
                leading, current = [], None
        elif pos == 2 and candidate is not None:
            if kind == tokenize.OP and text == ":":
                current = candidate
                if leading:
                    above[current] = " ".join(leading)
            else:
                current = None
            leading, candidate = [], None
    names = set(trailing) | set(above)
    return {n: trailing.get(n) or above[n] for n in names if trailing.get(n) or above.get(n)}


# ------------------------------------------------------------------------------------------ values


def _fit(value: Any, ptype: Parameter.Type) -> Any:
    """``value`` as a parameter of ``ptype`` (int -> float where a float is wanted), or None if it is not one."""
    def num(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if ptype == Parameter.Type.DOUBLE:
        return float(value) if num(value) else None
    if ptype == Parameter.Type.INTEGER:
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if ptype == Parameter.Type.BOOL:
        return value if isinstance(value, bool) else None
    if ptype == Parameter.Type.STRING:
        return value if isinstance(value, str) else None
    if not isinstance(value, (list, tuple, array.array)):
        return None
    items = list(value)
    if ptype == Parameter.Type.DOUBLE_ARRAY:
        return [float(v) for v in items] if all(num(v) for v in items) else None
    if ptype == Parameter.Type.INTEGER_ARRAY:
        return items if all(isinstance(v, int) and not isinstance(v, bool) for v in items) else None
    if ptype == Parameter.Type.BOOL_ARRAY:
        return items if all(isinstance(v, bool) for v in items) else None
    if ptype == Parameter.Type.STRING_ARRAY:
        return items if all(isinstance(v, str) for v in items) else None
    return None


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, (array.array, tuple)) else value


_PROCESS_ARGS: Optional[List[str]] = None      # the process's command line, as runner.run_node saw it


def remember_args(args: Sequence[str]) -> None:
    """Keep the process's arguments (for the parameter-file check); runner.run_node calls it."""
    global _PROCESS_ARGS
    _PROCESS_ARGS = list(args)


def params_files(args: Sequence[str]) -> List[str]:
    """The ``--params-file`` values inside the ``--ros-args`` sections of a command line, in order."""
    out: List[str] = []
    inside = False
    it = iter(args)
    for a in it:
        if a == "--ros-args":
            inside = True
        elif a == "--":
            inside = False
        elif inside and a == "--params-file":
            f = next(it, None)
            if f is not None:
                out.append(f)
    return out


def unmatched_params_files(files: Sequence[str], fqn: str) -> Optional[str]:
    """Why none of ``files`` configures node ``fqn`` although a section is meant for it (a section naming
    the node's name that misses its namespace, e.g. ``planner:`` for /robot1/planner), or None. Files with
    only ``/**`` sections (the launchers' inline values, a site file) and files about other nodes are no
    cause: a node without a config file of its own is not misconfigured. Pure (reads the files)."""
    name = fqn.rsplit("/", 1)[-1]
    meant: List[str] = []
    for f in files:
        try:
            data = load_yaml(f)
        except Exception:  # noqa: BLE001 - a file rcl cannot read is rcl's to report
            continue
        if any(is_node_specific(k) for k in matching_keys(data, fqn)):
            return None
        keys = [str(k) for k in data if is_node_specific(k) and str(k).rstrip("/").rsplit("/", 1)[-1] == name]
        if keys:
            meant.append(f"{f} ({', '.join(keys)})")
    if not meant:
        return None
    return (f"no parameter file has a section for {fqn}, so none of its configured values applied and the "
            f"code defaults run (sections meant for it: {'; '.join(meant)}). Key the sections /**/{name} "
            f"(any namespace) or {fqn}")


class NodeParameters:
    """The typed parameters of one node (see the module docstring)."""

    def __init__(self, node):
        self._node = node
        self.specs: Dict[str, ParamSpec] = {}
        self._problems: Dict[str, str] = {}      # name -> why it is declared without its descriptor
        self._warn_unmatched_files()

    def _warn_unmatched_files(self) -> None:
        node = self._node
        if _PROCESS_ARGS is None or getattr(node, "_parameter_overrides", None) is None:
            return
        if getattr(node, "_memory_nodes_files_checked", False):
            return
        node._memory_nodes_files_checked = True
        why = unmatched_params_files(params_files(_PROCESS_ARGS), node.get_fully_qualified_name())
        if why:
            node.get_logger().warning(why)

    # -------------------------------------------------------------------------------- declaring
    def declare(self, cls: type, prefix: str = "", *, ranges: Optional[Mapping[str, Range]] = None,
                read_only: bool = True, exclude: Iterable[str] = ()) -> List[ParamSpec]:
        """Declare every field of dataclass ``cls`` under ``prefix`` (see config_specs)."""
        specs = config_specs(cls, prefix, ranges=ranges, read_only=read_only, exclude=exclude)
        for s in specs:
            self._declare(s)
        return specs

    def declare_sections(self, sections: Iterable[Section]) -> List[ParamSpec]:
        out: List[ParamSpec] = []
        for sec in sections:
            out += self.declare(sec.cls, sec.prefix, ranges=sec.ranges, exclude=sec.exclude)
        return out

    def declare_value(self, name: str, default: Any, description: str, *, read_only: bool = True,
                      range: Optional[Range] = None) -> ParamSpec:
        """Declare one parameter that belongs to no dataclass (e.g. ``data_dir``)."""
        pt = parameter_type(type(default))
        if pt is None:
            raise ValueError(f"{name}: no ROS parameter type for {default!r}")
        spec = ParamSpec(name, default, pt, description, read_only, range)
        self._declare(spec)
        return spec

    def _declare(self, s: ParamSpec) -> None:
        node = self._node
        if s.name in self.specs:
            raise ValueError(f"parameter {s.name} declared twice")
        self.specs[s.name] = s
        if not node.has_parameter(s.name):
            initial = s.type if s.default is None or s.default == [] else s.default
            try:
                node.declare_parameter(s.name, initial, s.descriptor())
                return
            except (InvalidParameterTypeException, InvalidParameterValueException):
                # the override does not fit the descriptor: take it as it is; read() reports it
                node.declare_parameter(s.name, None, compat.parameter_descriptor(dynamic_typing=True))
        # declared from an override: give it its descriptor, keeping the value, if the value fits
        try:
            given = _plain(node.get_parameter(s.name).value)
        except ParameterUninitializedException:
            return
        value = _fit(given, s.type)
        if value is None or value == []:       # wrong type: config_from_dict reports it; [] stays as given
            if value is None:
                self._problems[s.name] = f"{s.name}: expected {s.type.name.lower()}, got {given!r}"
            return
        if not s.in_range(value):
            self._problems[s.name] = f"{s.name}: {value!r} is outside its range {s.range_text()}"
            return
        node.undeclare_parameter(s.name)
        node.declare_parameter(s.name, value, s.descriptor(), ignore_override=True)

    # -------------------------------------------------------------------------------- reading
    def values(self, cls: type, prefix: str = "") -> Dict[str, Any]:
        """Flat values (names without ``prefix``) of the parameters ``read(cls, prefix)`` reads: everything
        under a non-empty prefix, else the names whose first part is a field of ``cls``."""
        fields = {f.name for f in dataclasses.fields(cls)}
        out: Dict[str, Any] = {}
        for name, p in self._node.get_parameters_by_prefix(prefix.rstrip(".")).items():
            if not prefix and name.split(".", 1)[0] not in fields:
                continue
            if p.value is None:                 # declared by type only: the dataclass default applies
                continue
            out[name] = _plain(p.value)
        return out

    def read(self, cls: Type[T], prefix: str = "") -> T:
        """Dataclass ``cls`` from the parameters under ``prefix``, validated (ConfigError names the key)."""
        cfg = config_from_dict(cls, unflatten(self.values(cls, prefix)), prefix=prefix)
        fields = {f.name for f in dataclasses.fields(cls)}
        for name, why in self._problems.items():
            if name.startswith(prefix) and (prefix or name.split(".", 1)[0] in fields):
                raise ConfigError(why)
        return cfg

    def value(self, name: str) -> Any:
        """One parameter's value (as read() would see it)."""
        if name in self._problems:
            raise ConfigError(self._problems[name])
        return _plain(self._node.get_parameter(name).value)
