"""Pip runner for ROS 2 YAML launch files (there is no `ros2 launch` wheel).

It reads the same launch/*.launch.yaml that `ros2 launch` reads on a real install and starts the same
executables with the same arguments launch_ros would give them: node name, namespace, parameter files,
inline parameters, remappings, log level. Supported: `arg` (default, choice), `let`, `set_env`, `log`,
`node` (pkg, exec, name, namespace, args, param [from | name/value], remap, env), `executable` (cmd, name,
cwd, env: a plain process, as launch's ExecuteProcess; a leading ``python3`` / ``python`` in cmd is this
runner's own interpreter, the venv's, as ``python3`` on PATH is the ROS install's), `group` (scoped unless
``scoped: false``; ``namespace`` as a shorthand for a push), `push-ros-namespace`, `include` (file, arg),
`set_remap` and `set_parameter`, each with if/unless, and the substitutions $(var), $(env), $(find-pkg-share),
$(dirname), $(not), and $(eval) of a Python expression made of string/number literals, comparisons,
and/or/not and ``a if c else b`` (no names, calls or parentheses), e.g.
$(eval "'oracle' if '$(var with_sim)' == 'true' else 'onnx'").

Scoping as launch / launch_ros do it: `let`, `set_env`, `set_remap`, `set_parameter` and
`push-ros-namespace` hold for the actions after them up to the end of the enclosing scoped `group`, included
files too. An `include` is no scope of its own: its `arg` values are set for the rest of the including scope,
and an included file's `arg` keeps a value already set (so a launch argument given on the command line
reaches every file). `set_remap` rules come before a node's own `remap` (rcl takes the first matching rule,
so they win); `set_parameter` values come before its parameter files (so the node's own values win).

Parameter files are checked against rcl's matching rule (memory_nodes.common.config.node_key_matches): a
file none of whose sections applies to any node of the launch, and a file given to a node none of whose
sections applies to that node, each get one ``[launch] WARNING ...`` line (Description.warnings).

    memory-stack launch/memory_stack.launch.yaml namespace:=robot1 log_level:=debug
    python -m memory_nodes.ros.launcher <file> [name:=value ...] [--print]

``--print`` writes each node's command and the parameters the launch file sets inline (JSON: a list of
{name, namespace, command, parameters}) and exits; the launch file's `log` lines go to stderr there, to
stdout (as ``[launch] ...``) on a run.

Python API (used by the demo and the tests): ``Stack.from_file(path, overrides).start()``.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, TextIO, Tuple

import yaml

from memory_nodes.common.config import node_fqn, node_key_matches

REPO_ROOT = Path(__file__).resolve().parents[2]
_SUBST = re.compile(r"\$\(([a-z\-]+)((?:\s+[^()\s]+)*)\s*\)")


class LaunchError(Exception):
    """The launch file cannot be interpreted (unknown tag, missing argument, unknown package)."""


def find_pkg_share(pkg: str) -> str:
    """share/<pkg> from the ament index; the repo itself for memory_ros when it is not built."""
    try:
        from ament_index_python.packages import get_package_share_directory
        return get_package_share_directory(pkg)
    except Exception:  # noqa: BLE001 - not built or no ament_index_python: fall back below
        pass
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if prefix and (Path(prefix) / "share" / pkg / "package.xml").is_file():
            return str(Path(prefix) / "share" / pkg)
    if pkg == "memory_ros":
        return str(REPO_ROOT)  # launch/ and config/ sit at the repo root
    raise LaunchError(f"package {pkg!r} not found (is ros2_ws built? run scripts/setup.sh)")


def find_executable(pkg: str, exe: str) -> List[str]:
    """The command `ros2 run <pkg> <exe>` would execute."""
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        cand = Path(prefix) / "lib" / pkg / exe
        if prefix and cand.is_file():
            return [sys.executable, str(cand)] if _is_python_script(cand) else [str(cand)]
    ws = REPO_ROOT / "ros2_ws" / "install" / "lib" / pkg / exe
    if ws.is_file():
        return [sys.executable, str(ws)]
    if pkg == "memory_ros":  # not built: read the entry point from the package's setup.py
        target = _entry_points().get(exe)
        if target:
            module, func = target.split(":")
            return [sys.executable, "-c", f"import sys; from {module} import {func} as m; sys.exit(m())"]
    raise LaunchError(f"executable {exe!r} of package {pkg!r} not found")


def _is_python_script(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            first = f.readline()
        return first.startswith(b"#!") and b"python" in first
    except OSError:
        return False


def _entry_points() -> Dict[str, str]:
    setup_py = REPO_ROOT / "ros2_ws" / "src" / "memory_ros" / "setup.py"
    out: Dict[str, str] = {}
    for m in re.finditer(r'"([a-z_]+)\s*=\s*([\w.]+:\w+)"', setup_py.read_text()):
        out[m.group(1)] = m.group(2)
    return out


# ------------------------------------------------------------------------------------------ substitution
class Context:
    """What is in scope: launch configurations (vars), set_env values, set_remap rules, set_parameter values and
    the pushed ROS namespace. ``child()`` opens a scope (a scoped group); an include stays in its parent's."""

    def __init__(self, args: Mapping[str, str], env: Optional[Mapping[str, str]] = None,
                 remaps: Sequence[Tuple[str, str]] = (), params: Optional[Mapping[str, object]] = None,
                 ns: str = ""):
        self.vars: Dict[str, str] = dict(args)
        self.env: Dict[str, str] = dict(env or {})   # set_env actions in scope
        self.remaps: List[Tuple[str, str]] = list(remaps)      # set_remap rules in scope, in order
        self.params: Dict[str, object] = dict(params or {})   # set_parameter values in scope
        self.ns = ns                                           # pushed ROS namespace ("" or "/a/b")

    def child(self) -> "Context":
        return Context(self.vars, self.env, self.remaps, self.params, self.ns)

    def subst(self, value):
        if isinstance(value, list):
            return [self.subst(v) for v in value]
        if isinstance(value, dict):
            return {k: self.subst(v) for k, v in value.items()}
        if not isinstance(value, str):
            return value
        prev = None
        while prev != value and "$(" in value:
            prev = value
            value = _SUBST.sub(self._one, value)
        return value

    def _one(self, m: re.Match) -> str:
        kind, rest = m.group(1), [_unquote(a) for a in m.group(2).split()]
        if kind == "var":
            if rest[0] not in self.vars:
                raise LaunchError(f"launch argument {rest[0]!r} is not set")
            return self.vars[rest[0]]
        if kind == "env":
            return os.environ.get(rest[0], rest[1] if len(rest) > 1 else "")
        if kind == "find-pkg-share":
            return find_pkg_share(rest[0])
        if kind == "dirname":
            return str(Path(self.vars.get("__file__", ".")).parent)
        if kind == "not":
            return "false" if _truthy(rest[0]) else "true"
        if kind == "eval":
            expr = m.group(2).strip()
            if len(expr) >= 2 and expr[0] in "'\"" and expr.find(expr[0], 1) == len(expr) - 1:
                expr = expr[1:-1]              # one quoted argument, as the launch grammar reads it
            value = _eval_literal(expr)
            return str(value).lower() if isinstance(value, bool) else str(value)
        raise LaunchError(f"unsupported substitution $({kind} ...)")


def _unquote(arg: str) -> str:
    """A quoted substitution argument (``''``, ``"x"``) as its text, as the launch grammar reads it."""
    return arg[1:-1] if len(arg) >= 2 and arg[0] == arg[-1] and arg[0] in "'\"" else arg


_EVAL_NODES = (ast.Expression, ast.Constant, ast.Compare, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not,
               ast.IfExp, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Tuple,
               ast.List, ast.Load, ast.Name)


def _eval_literal(expr: str):
    """Evaluate a $(eval) expression of literals only (see the module docstring); ``true``/``false`` are
    the booleans. Anything else is a LaunchError."""
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as e:
        raise LaunchError(f"$(eval) cannot parse {expr!r}: {e.msg}") from None
    for n in ast.walk(tree):
        if not isinstance(n, _EVAL_NODES) or (isinstance(n, ast.Name) and n.id not in ("true", "false",
                                                                                       "True", "False")):
            raise LaunchError(f"$(eval) supports literals, comparisons, and/or/not and if-else only: {expr!r}")
    names = {"true": True, "false": False, "True": True, "False": False}
    return eval(compile(tree, "<launch eval>", "eval"), {"__builtins__": {}}, names)  # noqa: S307 - checked above


def _truthy(v) -> bool:
    s = str(v).strip().lower()
    if s in ("true", "1", "yes", "on"):
        return True
    if s in ("false", "0", "no", "off", ""):
        return False
    raise LaunchError(f"not a boolean: {v!r}")


# ------------------------------------------------------------------------------------------ description
@dataclass
class NodeSpec:
    name: str
    command: List[str]                          # executable + arguments (incl. --ros-args ...)
    env: Dict[str, str] = field(default_factory=dict)
    namespace: str = ""
    parameters: Dict[str, object] = field(default_factory=dict)   # set inline by the launch file (last wins)
    params_files: List[str] = field(default_factory=list)         # its `from` parameter files, in order
    is_node: bool = True                        # False: an `executable` (a plain process, no ROS arguments)
    cwd: Optional[str] = None                   # executable: its working directory (None: the runner's)

    @property
    def fqn(self) -> str:
        return node_fqn(self.name, self.namespace)

    def pretty(self) -> str:
        return " ".join(shlex.quote(c) for c in self.command)


def _param_file_for(values: Dict[str, object], tmpdir: Path, name: str) -> str:
    path = tmpdir / f"{name}_inline_params.yaml"
    with path.open("w") as f:
        yaml.safe_dump({"/**": {"ros__parameters": values}}, f)
    return str(path)


def _coerce_param(v):
    if isinstance(v, str):
        try:
            parsed = yaml.safe_load(v)
        except yaml.YAMLError:
            return v
        if isinstance(parsed, (bool, int, float, list)) or parsed is None:
            return v if parsed is None else parsed
    return v


@dataclass
class Description:
    """A launch file interpreted: the nodes, the resolved launch arguments, the `log` lines in order, and
    the warnings about parameter files that apply to no node (params_file_warnings)."""
    nodes: List[NodeSpec]
    arguments: Dict[str, str]
    messages: List[str]
    warnings: List[str] = field(default_factory=list)


def describe(path: Path, overrides: Mapping[str, str], tmpdir: Path) -> List[NodeSpec]:
    """Interpret a YAML launch file into the node commands launch_ros would run."""
    return describe_all(path, overrides, tmpdir).nodes


def describe_all(path: Path, overrides: Mapping[str, str], tmpdir: Path) -> Description:
    """``describe`` with the resolved launch arguments, the file's `log` messages and the warnings."""
    ctx = Context({"__file__": str(Path(path).absolute()), **{k: str(v) for k, v in overrides.items()}})
    out = Description([], {}, [])
    declared: set = set()
    _walk(_load(Path(path)), ctx, out, tmpdir, declared, depth=0)
    unknown = set(overrides) - declared
    if unknown:
        raise LaunchError(f"unknown launch argument(s): {sorted(unknown)}")
    out.warnings = params_file_warnings(out.nodes)
    return out


def _load(path: Path):
    doc = yaml.safe_load(path.read_text())
    if not isinstance(doc, dict) or "launch" not in doc:
        raise LaunchError(f"{path}: not a YAML launch file (top-level key 'launch' missing)")
    return doc["launch"]


def _walk(actions, ctx: Context, out: Description, tmpdir, declared: set, depth: int) -> None:
    for action in actions or []:
        if not isinstance(action, dict) or len(action) != 1:
            raise LaunchError(f"bad launch action: {action!r}")
        (tag, body), = action.items()
        body = body or {}
        if "if" in body and not _truthy(ctx.subst(body["if"])):
            continue
        if "unless" in body and _truthy(ctx.subst(body["unless"])):
            continue
        tag = tag.replace("-", "_")
        if tag == "arg":
            name = body["name"]
            declared.add(name)
            if name not in ctx.vars:        # a value given (command line, include arg) is kept, as launch does
                if "default" not in body:
                    raise LaunchError(f"launch argument {name!r} has no default and was not given")
                ctx.vars[name] = str(ctx.subst(body["default"]))
            choices = [str(c["value"]) for c in body.get("choice", []) or []]
            if choices and ctx.vars[name] not in choices:
                raise LaunchError(f"launch argument {name}:={ctx.vars[name]} is not one of {choices}"
                                  + (f" ({body['description']})" if body.get("description") else ""))
            if depth == 0 and name not in out.arguments:
                out.arguments[name] = ctx.vars[name]
        elif tag == "log":
            out.messages.append(str(ctx.subst(body["message"])))
        elif tag == "let":
            ctx.vars[body["name"]] = str(ctx.subst(body["value"]))
        elif tag == "set_env":
            ctx.env[ctx.subst(body["name"])] = str(ctx.subst(body["value"]))
        elif tag == "set_remap":
            ctx.remaps.append((str(ctx.subst(body["from"])), str(ctx.subst(body["to"]))))
        elif tag == "set_parameter":
            ctx.params[str(ctx.subst(body["name"]))] = _coerce_param(ctx.subst(body["value"]))
        elif tag == "push_ros_namespace":
            ctx.ns = _push_ns(ctx.ns, str(ctx.subst(body["namespace"])))
        elif tag == "group":
            scoped = _truthy(ctx.subst(body.get("scoped", "true")))
            inner = ctx.child() if scoped else ctx
            if "namespace" in body:
                inner.ns = _push_ns(inner.ns, str(ctx.subst(body["namespace"])))
            _walk(body.get("actions", []), inner, out, tmpdir, declared, depth)
        elif tag == "include":
            _include(body, ctx, out, tmpdir, declared, depth)
        elif tag == "node":
            out.nodes.append(_node(body, ctx, tmpdir))
        elif tag == "executable":
            out.nodes.append(_executable(body, ctx))
        else:
            raise LaunchError(f"launch tag {tag!r} is not supported by the pip runner")


def _include(body, ctx: Context, out: Description, tmpdir, declared: set, depth: int) -> None:
    """IncludeLaunchDescription: the `arg` values are set in the including scope (no scope of its own);
    $(dirname) is the included file's folder while it runs."""
    f = Path(str(ctx.subst(body["file"]))).absolute()     # relative: to the working directory, as launch
    if not f.is_file():
        raise LaunchError(f"include: launch file not found: {f}")
    if f.suffix not in (".yaml", ".yml"):
        raise LaunchError(f"include {f}: the pip runner reads YAML launch files only")
    for a in body.get("arg", []) or []:
        ctx.vars[str(a["name"])] = str(ctx.subst(a["value"]))
    outer = ctx.vars.get("__file__")
    ctx.vars["__file__"] = str(f)
    try:
        _walk(_load(f), ctx, out, tmpdir, declared, depth + 1)
    finally:
        if outer is not None:
            ctx.vars["__file__"] = outer


def _push_ns(base: str, ns: str) -> str:
    """PushRosNamespace: an absolute namespace replaces the pushed one, a relative one is appended."""
    return _join_ns("", ns) if ns.startswith("/") else _join_ns(base, ns)


def _join_ns(a: str, b: str) -> str:
    parts = [p for p in (a.strip("/"), b.strip("/")) if p]
    return "/" + "/".join(parts) if parts else ""


def _node(body, ctx: Context, tmpdir: Path) -> NodeSpec:
    pkg, exe = ctx.subst(body["pkg"]), ctx.subst(body["exec"])
    name = ctx.subst(body.get("name", exe))
    own_ns = str(ctx.subst(body.get("namespace", "")))
    ns = _join_ns("", own_ns) if own_ns.startswith("/") else _join_ns(ctx.ns, own_ns)   # as launch_ros
    cmd = find_executable(pkg, exe)
    user_args = shlex.split(ctx.subst(body.get("args", "")))
    ros_args: List[str] = []
    if "--ros-args" in user_args:
        i = user_args.index("--ros-args")
        user_args, ros_args = user_args[:i], user_args[i + 1:]
    cmd += user_args + ["--ros-args", "-r", f"__node:={name}"]
    if ns:
        cmd += ["-r", f"__ns:={ns}"]
    every_inline: Dict[str, object] = dict(ctx.params)      # set_parameter first: the node's own win
    if ctx.params:
        cmd += ["--params-file", _param_file_for(dict(ctx.params), tmpdir, f"{name}_global_{len(cmd)}")]
    inline: Dict[str, object] = {}
    files: List[str] = []
    for p in body.get("param", []) or []:
        if "from" in p:
            if inline:  # keep the order of files and inline values as launch_ros does
                cmd += ["--params-file", _param_file_for(inline, tmpdir, f"{name}_{len(cmd)}")]
                inline = {}
            f = ctx.subst(p["from"])
            if not Path(f).is_file():
                raise LaunchError(f"node {name}: parameter file not found: {f}")
            cmd += ["--params-file", f]
            files.append(f)
        else:
            inline[ctx.subst(p["name"])] = _coerce_param(ctx.subst(p["value"]))
            every_inline.update(inline)
    if inline:
        cmd += ["--params-file", _param_file_for(inline, tmpdir, f"{name}_{len(cmd)}")]
    for frm, to in ctx.remaps:            # set_remap rules first (rcl applies the first rule that matches)
        cmd += ["-r", f"{frm}:={to}"]
    for r in body.get("remap", []) or []:
        cmd += ["-r", f"{ctx.subst(r['from'])}:={ctx.subst(r['to'])}"]
    cmd += ros_args
    env = dict(ctx.env)
    env.update({ctx.subst(e["name"]): ctx.subst(e["value"]) for e in body.get("env", []) or []})
    return NodeSpec(name=name, command=cmd, env=env, namespace=ns, parameters=every_inline, params_files=files)


def _executable(body, ctx: Context) -> NodeSpec:
    """ExecuteProcess: ``cmd`` split as a command line (no shell); ``name`` (default: the program's name)."""
    cmd = shlex.split(str(ctx.subst(body["cmd"])))
    if not cmd:
        raise LaunchError("executable: empty cmd")
    if cmd[0] in ("python3", "python"):       # the interpreter this runner (and the venv's nodes) run on
        cmd[0] = sys.executable
    name = str(ctx.subst(body.get("name", Path(cmd[0]).name)))
    env = dict(ctx.env)
    env.update({ctx.subst(e["name"]): ctx.subst(e["value"]) for e in body.get("env", []) or []})
    cwd = ctx.subst(body["cwd"]) if body.get("cwd") else None
    return NodeSpec(name=name, command=cmd, env=env, is_node=False, cwd=cwd)


def params_file_warnings(nodes: Sequence[NodeSpec]) -> List[str]:
    """One line per cause: a parameter file whose sections apply to no node of the launch; a file given to
    a node that has a section for the node's name (``planner``, ``/other_ns/planner``) none of whose
    sections applies to the node (rcl's matching: node_key_matches). A site file about other nodes only,
    given to every node, is no cause. A file that cannot be read as a mapping is left to rcl to report."""
    out: List[str] = []
    sections: Dict[str, List[str]] = {}
    for f in dict.fromkeys(f for n in nodes for f in n.params_files):
        try:
            data = yaml.safe_load(Path(f).read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(data, dict):
            sections[f] = [k for k, v in data.items() if isinstance(v, dict)]
    fqns = [n.fqn for n in nodes if n.is_node]
    dead = set()
    for f, keys in sections.items():
        if keys and not any(node_key_matches(k, q) for k in keys for q in fqns):
            dead.add(f)
            out.append(f"WARNING parameter file {f}: its sections ({', '.join(map(str, keys))}) apply to no node "
                       f"of this launch ({', '.join(fqns)}); key them /**/<node> to apply under any namespace")
    for n in nodes:     # a section meant for this node (its name) that misses it (the namespace)
        for f in dict.fromkeys(n.params_files):
            keys = sections.get(f)
            if f in dead or not keys or any(node_key_matches(k, n.fqn) for k in keys):
                continue
            if not any(str(k).rstrip("/").rsplit("/", 1)[-1] == n.name for k in keys):
                continue        # a site file about other nodes only, given to every node: nothing missed
            out.append(f"WARNING node {n.fqn}: no section of {f} ({', '.join(map(str, keys))}) applies to it, "
                       f"so none of its values do; key it /**/{n.name} (any namespace) or {n.fqn}")
    return out


# ------------------------------------------------------------------------------------------ processes
class Stack:
    """The processes of one launch description. Output lines are prefixed with [node name]."""

    def __init__(self, specs: Sequence[NodeSpec], tmpdir: tempfile.TemporaryDirectory,
                 env: Optional[Mapping[str, str]] = None, out: Optional[TextIO] = None,
                 log_dir: Optional[Path] = None, echo: bool = True,
                 description: Optional[Description] = None):
        self.specs = list(specs)
        self.description = description or Description(list(specs), {}, [])
        self._tmp = tmpdir
        self._env = dict(os.environ if env is None else env)
        self._out = (out if out is not None else sys.stdout) if echo else None
        self._log_dir = log_dir
        self.procs: Dict[str, subprocess.Popen] = {}
        self._threads: List[threading.Thread] = []
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path, overrides: Optional[Mapping[str, str]] = None, **kw) -> "Stack":
        tmp = tempfile.TemporaryDirectory(prefix="memory_stack_")
        d = describe_all(Path(path), overrides or {}, Path(tmp.name))
        return cls(d.nodes, tmp, description=d, **kw)

    def start(self) -> "Stack":
        if self._out is not None:      # the `log` lines as ros2 launch prints them, then the warnings
            with self._lock:
                for m in self.description.messages:
                    self._out.write(f"[launch] {m}\n")
                for w in self.description.warnings:
                    self._out.write(f"[launch] {w}\n")
                self._out.flush()
        for s in self.specs:
            env = dict(self._env)
            env.update(s.env)
            env.setdefault("PYTHONUNBUFFERED", "1")
            env.setdefault("RCUTILS_COLORIZED_OUTPUT", "0")
            p = subprocess.Popen(s.command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True, text=True, bufsize=1,
                                 cwd=s.cwd)
            self.procs[s.name] = p
            t = threading.Thread(target=self._pump, args=(s.name, p), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def _pump(self, name: str, p: subprocess.Popen) -> None:
        log = None
        if self._log_dir is not None:
            self._log_dir.mkdir(parents=True, exist_ok=True)
            log = (self._log_dir / f"{name}.log").open("a")
        for line in p.stdout:
            if log is not None:
                log.write(line)
                log.flush()
            if self._out is not None:
                with self._lock:
                    self._out.write(f"[{name}] {line}")
                    self._out.flush()
        if log is not None:
            log.close()

    def poll(self) -> Dict[str, Optional[int]]:
        return {n: p.poll() for n, p in self.procs.items()}

    def stop(self, timeout_s: float = 10.0) -> Dict[str, Optional[int]]:
        """SIGINT every process (as Ctrl-C would), then SIGTERM, then SIGKILL."""
        for sig, wait_s in ((signal.SIGINT, timeout_s), (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
            alive = [p for p in self.procs.values() if p.poll() is None]
            if not alive:
                break
            for p in alive:
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + wait_s
            for p in alive:
                try:
                    p.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
        for t in self._threads:
            t.join(timeout=2.0)
        self._tmp.cleanup()
        return self.poll()

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _parse_overrides(items: Iterable[str]) -> Dict[str, str]:
    out = {}
    for it in items:
        if ":=" not in it:
            raise LaunchError(f"launch arguments are name:=value, got {it!r}")
        k, v = it.split(":=", 1)
        out[k] = v
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="memory-stack", description=__doc__.split("\n\n")[0])
    ap.add_argument("items", nargs="*", metavar="[LAUNCH_FILE] [name:=value ...]",
                    help="launch file (default: launch/memory_stack.launch.yaml) and launch arguments")
    ap.add_argument("--print", action="store_true", help="print the node commands (JSON) and exit")
    a = ap.parse_intermixed_args(argv)    # --print anywhere among the launch arguments
    files = [i for i in a.items if ":=" not in i]
    launch_file = files[0] if files else str(REPO_ROOT / "launch" / "memory_stack.launch.yaml")
    try:
        if len(files) > 1:
            raise LaunchError(f"one launch file expected, got {files}")
        stack = Stack.from_file(launch_file, _parse_overrides(i for i in a.items if ":=" in i))
    except (LaunchError, OSError, yaml.YAMLError) as e:
        print(f"memory-stack: {e}", file=sys.stderr)
        return 2
    if a.print:
        for m in stack.description.messages + stack.description.warnings:
            print(f"[launch] {m}", file=sys.stderr)
        print(json.dumps([{"name": s.name, "namespace": s.namespace, "command": s.command,
                           "parameters": s.parameters} for s in stack.specs], indent=2))
        stack._tmp.cleanup()
        return 0
    def _terminate(signum, _frame):  # SIGTERM/SIGHUP stop the stack as Ctrl-C does, never orphan nodes
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    stack.start()
    print(f"memory-stack: started {', '.join(stack.procs)} (Ctrl-C stops)", flush=True)
    try:
        while True:
            states = stack.poll()
            if all(rc is not None for rc in states.values()):
                break
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        codes = stack.stop()
    bad = {n: rc for n, rc in codes.items() if rc not in (0, None, -signal.SIGINT)}
    for n, rc in bad.items():       # say which node failed and how, not just the runner's status 1
        how = f"was killed by signal {-rc}" if rc < 0 else f"exited with status {rc}"
        print(f"memory-stack: node {n} {how}", file=sys.stderr, flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
