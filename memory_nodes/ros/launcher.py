"""Pip runner for ROS 2 YAML launch files (there is no `ros2 launch` wheel).

It reads the same launch/*.launch.yaml that `ros2 launch` reads on a real install and starts the same
executables with the same arguments launch_ros would give them: node name, namespace, parameter files,
inline parameters, remappings, log level. Supported: `arg` (default, choice), `let`, `set_env`, `log`,
`node` (pkg, exec, name, namespace, args, param [from | name/value], remap, env, if/unless), `group`
(scoped), and the substitutions $(var), $(env), $(find-pkg-share), $(dirname), $(not), and $(eval) of a
Python expression made of string/number literals, comparisons, and/or/not and ``a if c else b`` (no names,
calls or parentheses), e.g. $(eval "'oracle' if '$(var with_sim)' == 'true' else 'onnx'").

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
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, TextIO

import yaml

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
    def __init__(self, args: Mapping[str, str], env: Optional[Mapping[str, str]] = None):
        self.vars: Dict[str, str] = dict(args)
        self.env: Dict[str, str] = dict(env or {})   # set_env actions in scope

    def child(self) -> "Context":
        return Context(self.vars, self.env)

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
        kind, rest = m.group(1), m.group(2).split()
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
    """A launch file interpreted: the nodes, the resolved launch arguments, the `log` lines in order."""
    nodes: List[NodeSpec]
    arguments: Dict[str, str]
    messages: List[str]


def describe(path: Path, overrides: Mapping[str, str], tmpdir: Path) -> List[NodeSpec]:
    """Interpret a YAML launch file into the node commands launch_ros would run."""
    return describe_all(path, overrides, tmpdir).nodes


def describe_all(path: Path, overrides: Mapping[str, str], tmpdir: Path) -> Description:
    """``describe`` with the resolved launch arguments and the file's `log` messages."""
    doc = yaml.safe_load(path.read_text())
    if not isinstance(doc, dict) or "launch" not in doc:
        raise LaunchError(f"{path}: not a YAML launch file (top-level key 'launch' missing)")
    ctx = Context({"__file__": str(path)})
    out = Description([], {}, [])
    _walk(doc["launch"], ctx, dict(overrides), out, tmpdir, ns_prefix="")
    unknown = set(overrides) - set(ctx.vars)
    if unknown:
        raise LaunchError(f"unknown launch argument(s): {sorted(unknown)}")
    return out


def _walk(actions, ctx: Context, overrides, out: Description, tmpdir, ns_prefix) -> None:
    for action in actions or []:
        if not isinstance(action, dict) or len(action) != 1:
            raise LaunchError(f"bad launch action: {action!r}")
        (tag, body), = action.items()
        body = body or {}
        if "if" in body and not _truthy(ctx.subst(body["if"])):
            continue
        if "unless" in body and _truthy(ctx.subst(body["unless"])):
            continue
        if tag == "arg":
            name = body["name"]
            if name in overrides:
                ctx.vars[name] = str(overrides[name])
            elif "default" in body:
                ctx.vars[name] = str(ctx.subst(body["default"]))
            else:
                raise LaunchError(f"launch argument {name!r} has no default and was not given")
            choices = [str(c["value"]) for c in body.get("choice", []) or []]
            if choices and ctx.vars[name] not in choices:
                raise LaunchError(f"launch argument {name}:={ctx.vars[name]} is not one of {choices}"
                                  + (f" ({body['description']})" if body.get("description") else ""))
            if ns_prefix == "" and name not in out.arguments:
                out.arguments[name] = ctx.vars[name]
        elif tag == "log":
            out.messages.append(str(ctx.subst(body["message"])))
        elif tag == "let":
            ctx.vars[body["name"]] = str(ctx.subst(body["value"]))
        elif tag == "set_env":
            ctx.env[ctx.subst(body["name"])] = str(ctx.subst(body["value"]))
        elif tag == "group":
            ns = ctx.subst(body.get("namespace", "")) if "namespace" in body else ""
            child = ctx.child()
            _walk(body.get("actions", []), child, overrides, out, tmpdir, _join_ns(ns_prefix, ns))
        elif tag == "node":
            out.nodes.append(_node(body, ctx, tmpdir, ns_prefix))
        else:
            raise LaunchError(f"launch tag {tag!r} is not supported by the pip runner")


def _join_ns(a: str, b: str) -> str:
    parts = [p for p in (a.strip("/"), b.strip("/")) if p]
    return "/" + "/".join(parts) if parts else ""


def _node(body, ctx: Context, tmpdir: Path, ns_prefix: str) -> NodeSpec:
    pkg, exe = ctx.subst(body["pkg"]), ctx.subst(body["exec"])
    name = ctx.subst(body.get("name", exe))
    ns = _join_ns(ns_prefix, ctx.subst(body.get("namespace", "")))
    cmd = find_executable(pkg, exe)
    user_args = shlex.split(ctx.subst(body.get("args", "")))
    ros_args: List[str] = []
    if "--ros-args" in user_args:
        i = user_args.index("--ros-args")
        user_args, ros_args = user_args[:i], user_args[i + 1:]
    cmd += user_args + ["--ros-args", "-r", f"__node:={name}"]
    if ns:
        cmd += ["-r", f"__ns:={ns}"]
    inline: Dict[str, object] = {}
    every_inline: Dict[str, object] = {}
    for p in body.get("param", []) or []:
        if "from" in p:
            if inline:  # keep the order of files and inline values as launch_ros does
                cmd += ["--params-file", _param_file_for(inline, tmpdir, f"{name}_{len(cmd)}")]
                inline = {}
            f = ctx.subst(p["from"])
            if not Path(f).is_file():
                raise LaunchError(f"node {name}: parameter file not found: {f}")
            cmd += ["--params-file", f]
        else:
            inline[ctx.subst(p["name"])] = _coerce_param(ctx.subst(p["value"]))
            every_inline.update(inline)
    if inline:
        cmd += ["--params-file", _param_file_for(inline, tmpdir, f"{name}_{len(cmd)}")]
    for r in body.get("remap", []) or []:
        cmd += ["-r", f"{ctx.subst(r['from'])}:={ctx.subst(r['to'])}"]
    cmd += ros_args
    env = dict(ctx.env)
    env.update({ctx.subst(e["name"]): ctx.subst(e["value"]) for e in body.get("env", []) or []})
    return NodeSpec(name=name, command=cmd, env=env, namespace=ns, parameters=every_inline)


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
        for m in self.description.messages:     # the launch file's `log` lines, as ros2 launch prints them
            if self._out is not None:
                with self._lock:
                    self._out.write(f"[launch] {m}\n")
                    self._out.flush()
        legacy_dds_name = _fastdds_major() < 3
        for s in self.specs:
            env = dict(self._env)
            env.update(s.env)
            if not legacy_dds_name and "FASTDDS_DEFAULT_PROFILES_FILE" in env:
                # Fast DDS 3 (Kilted wheels) reads FASTDDS_*; the FASTRTPS_* name the launch file also sets
                # for Humble/Jazzy would only make every node warn that it is deprecated
                env.pop("FASTRTPS_DEFAULT_PROFILES_FILE", None)
            env.setdefault("PYTHONUNBUFFERED", "1")
            env.setdefault("RCUTILS_COLORIZED_OUTPUT", "0")
            p = subprocess.Popen(s.command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True, text=True, bufsize=1)
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


def _fastdds_major() -> int:
    try:
        from importlib.metadata import version
        return int(version("ros-fastdds").split(".")[0])
    except Exception:  # noqa: BLE001 - not a wheel install: a distribution's Fast DDS reads both names
        return 0


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
        for m in stack.description.messages:
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
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
