"""memory_nodes/ros/compat.py: each Humble/Kilted difference takes the branch the installed rclpy calls for.
Both branches are driven with stand-in modules (no rclpy needed, so this also runs under Python 3.10 in
tests/test_portability_py310.py); where rclpy is installed, the real one is checked too."""
from __future__ import annotations

import io
import re
import tokenize
import types
from pathlib import Path

import pytest

from memory_nodes.ros import compat


class Opts:
    ALL, SIGINT, NO = "ALL", "SIGINT", "NO"


def fake_rclpy(kilted: bool):
    calls = []

    if kilted:
        def init(*, args=None, context=None, domain_id=None, signal_handler_options=None):
            calls.append(("init", dict(args=args, context=context, domain_id=domain_id,
                                       signal_handler_options=signal_handler_options)))
    else:     # an rclpy without domain_id / signal_handler_options (pre-Humble shape)
        def init(*, args=None, context=None):
            calls.append(("init", dict(args=args, context=context)))

    def try_shutdown(context=None):
        calls.append(("try_shutdown", context))

    mod = types.SimpleNamespace(init=init, try_shutdown=try_shutdown, calls=calls)
    if kilted:
        mod.signals = types.SimpleNamespace(SignalHandlerOptions=Opts)
    return mod


def test_init_passes_only_what_this_rclpy_takes():
    new = fake_rclpy(kilted=True)
    compat.init(["--ros-args"], domain_id=7, rclpy_module=new)
    assert new.calls == [("init", dict(args=["--ros-args"], context=None, domain_id=7, signal_handler_options="ALL"))]
    assert compat.init_kwargs(signals="none", rclpy_module=new)["signal_handler_options"] == "NO"
    old = fake_rclpy(kilted=False)
    compat.init(domain_id=7, context="ctx", rclpy_module=old)
    assert old.calls == [("init", dict(args=None, context="ctx"))]
    assert compat.signal_options("all", old) is None


def test_session_shuts_down_even_when_the_block_raises():
    mod = fake_rclpy(kilted=False)
    with pytest.raises(RuntimeError):
        with compat.session(rclpy_module=mod):
            raise RuntimeError("boom")
    assert [c[0] for c in mod.calls] == ["init", "try_shutdown"]
    mod = fake_rclpy(kilted=True)
    with compat.session(context="ctx", rclpy_module=mod) as ctx:
        assert ctx == "ctx"
    assert mod.calls[-1] == ("try_shutdown", "ctx")


class Timer:
    def __init__(self):
        self.cancelled = False

    def cancel(self):
        self.cancelled = True


def test_create_timer_autostart_either_way():
    class JazzyNode:
        def create_timer(self, period, cb, callback_group=None, clock=None, autostart=True):
            t = Timer()
            t.autostart = autostart
            return t

    class HumbleNode:
        def create_timer(self, period, cb, callback_group=None, clock=None):
            return Timer()

    t = compat.create_timer(JazzyNode(), 0.1, lambda: None, autostart=False)
    assert t.autostart is False and not t.cancelled
    t = compat.create_timer(HumbleNode(), 0.1, lambda: None, autostart=False, clock="steady")
    assert t.cancelled
    assert not compat.create_timer(HumbleNode(), 0.1, lambda: None).cancelled


def test_warning_uses_warning_else_warn():
    seen = []
    compat.warning(types.SimpleNamespace(warning=lambda m, **k: seen.append(("warning", m))), "a")
    compat.warning(types.SimpleNamespace(warn=lambda m, **k: seen.append(("warn", m))), "b")
    assert seen == [("warning", "a"), ("warn", "b")]


def test_shutdown_exceptions_and_sensor_qos():
    class Ext(Exception):
        pass

    assert compat.shutdown_exceptions(types.SimpleNamespace(ExternalShutdownException=Ext)) == (KeyboardInterrupt, Ext)
    assert compat.shutdown_exceptions(types.SimpleNamespace()) == (KeyboardInterrupt,)
    preset = types.SimpleNamespace(value="sensor-preset")
    assert compat.sensor_data_qos(types.SimpleNamespace(
        QoSPresetProfiles=types.SimpleNamespace(SENSOR_DATA=preset), qos_profile_sensor_data="old")) == "sensor-preset"
    assert compat.sensor_data_qos(types.SimpleNamespace(qos_profile_sensor_data="old")) == "old"


def test_parameter_descriptor_drops_unknown_fields():
    class OldDescriptor:
        @staticmethod
        def get_fields_and_field_types():
            return {"name": "string", "description": "string", "read_only": "boolean"}

        def __init__(self, **kw):
            self.kw = kw

    d = compat.parameter_descriptor(OldDescriptor, description="m", read_only=True, dynamic_typing=True)
    assert d.kw == {"description": "m", "read_only": True}
    # only the version-dependent fields are dropped: a misspelt one reaches the constructor (Humble rejects it)
    assert compat.parameter_descriptor(OldDescriptor, descripton="m").kw == {"descripton": "m"}


def test_lifecycle_api_and_goal_result():
    lc = types.SimpleNamespace(Node="N", State="S", TransitionCallbackReturn="T")
    assert compat.lifecycle_api(types.SimpleNamespace(lifecycle=lc)) == ("N", "S", "T")
    with pytest.raises(ImportError, match="Humble or later"):
        compat.lifecycle_api(types.SimpleNamespace())
    assert compat.goal_result(types.SimpleNamespace(status=4, result="r")) == (4, "r")
    assert compat.goal_result(None) == (0, None) and compat.goal_result("r") == (0, "r")


def test_the_installed_rclpy():
    rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed (scripts/setup.sh installs the wheels)")
    kw = compat.init_kwargs(domain_id=3, rclpy_module=rclpy)
    assert kw["domain_id"] == 3 and "signal_handler_options" in kw
    assert compat.shutdown_exceptions()[-1].__name__ == "ExternalShutdownException"
    assert compat.sensor_data_qos().depth == 5
    from rclpy.qos import QoSPresetProfiles

    from memory_nodes.ros import qos
    assert qos.SENSOR == QoSPresetProfiles.SENSOR_DATA.value        # the same profile as before compat
    node_cls, _, ret = compat.lifecycle_api()
    assert node_cls.__name__ == "LifecycleNode" or hasattr(ret, "SUCCESS")
    d = compat.parameter_descriptor(description="x", dynamic_typing=True)
    assert d.description == "x" and d.dynamic_typing


# -- guard: the node code calls compat, never the rclpy APIs it wraps -------------------------------------------
ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("memory_nodes/ros", "sim/ros")
DIRECT = {      # what compat replaces -> the compat call to use instead
    "rclpy.init": (r"\brclpy\.init\(", "compat.init / compat.session"),
    "signal handlers": (r"\bsignal_handler_options\s*=|\brclpy\.signals\b|\bSignalHandlerOptions\b",
                        "compat.init(signals=...)"),
    "shutdown exception": (r"\bExternalShutdownException\b", "compat.shutdown_exceptions()"),
    "sensor QoS": (r"\bqos_profile_sensor_data\b|\bQoSPresetProfiles\b", "compat.sensor_data_qos() (qos.SENSOR)"),
    "descriptor": (r"\bParameterDescriptor\(", "compat.parameter_descriptor"),
    "timer autostart": (r"(?<![\w.])autostart\s*=(?!=)", "compat.create_timer(autostart=...)"),
    "logger.warn": (r"\.warn\(", "logger.warning / compat.warning"),
    "rclpy.lifecycle": (r"\brclpy\.lifecycle\b", "compat.lifecycle_api()"),
}
# direct uses not switched yet: (file, kind). None left: a new direct use anywhere fails the guard.
ALLOWED: set = set()


def code_lines(text: str):
    """(line number, line) with string literals and comments blanked, so docstrings may name the APIs."""
    lines = text.splitlines()
    blank = {tokenize.STRING, tokenize.COMMENT} | {getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)}
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type not in blank:
            continue
        (r0, c0), (r1, c1) = tok.start, tok.end
        for r in range(r0, r1 + 1):
            line = lines[r - 1]
            a = c0 if r == r0 else 0
            b = c1 if r == r1 else len(line)
            lines[r - 1] = line[:a] + " " * (b - a) + line[b:]
    return list(enumerate(lines, 1))


def direct_uses(text: str):
    """(line number, kind) of each direct use of an API compat wraps, in code (not strings or comments)."""
    found = []
    for n, line in code_lines(text):
        for kind, (pattern, _) in DIRECT.items():
            if re.search(pattern, line):
                found.append((n, kind))
    return found


def test_guard_finds_code_not_docs():
    src = ('"""rclpy.init(signal_handler_options=...), logger.warn(x)"""\n'
           "# qos_profile_sensor_data\n"
           "import rclpy.lifecycle  # noqa\n"
           "node.get_logger().warn('x'); self._autostart_timer = 1\n"
           "rclpy.init(args=a)\n"
           "t = node.create_timer(1.0, cb, autostart=False)\n")
    assert direct_uses(src) == [(3, "rclpy.lifecycle"), (4, "logger.warn"), (5, "rclpy.init"),
                                (6, "timer autostart")]


def test_node_code_goes_through_compat():
    files = sorted(f for d in SCANNED for f in (ROOT / d).rglob("*.py") if f.name != "compat.py")
    assert len(files) > 10, "scanned folders moved?"
    bad = []
    for f in files:
        rel = f.relative_to(ROOT).as_posix()
        for n, kind in direct_uses(f.read_text(encoding="utf-8")):
            if (rel, kind) not in ALLOWED:
                bad.append(f"{rel}:{n}: {kind} -> use {DIRECT[kind][1]}")
    assert not bad, "direct rclpy uses that memory_nodes/ros/compat.py wraps:\n" + "\n".join(bad)


def test_message_info_gid_by_what_rclpy_has():
    """Jazzy+: MessageInfo with publisher_gid (perception tells memory processes apart by it); Humble: none."""
    class Info:
        __annotations__ = {"source_timestamp": int, "publisher_gid": dict}
    assert compat.message_info_gid(types.SimpleNamespace(MessageInfo=Info)) is True
    assert compat.message_info_gid(types.SimpleNamespace()) is False
    assert compat.message_info_gid(types.SimpleNamespace(MessageInfo=type("Old", (), {}))) is False


def test_shutdown_race_is_an_rcl_error_after_shutdown_only():
    class RCLError(RuntimeError):
        pass

    down = types.SimpleNamespace(ok=lambda context=None: False)
    up = types.SimpleNamespace(ok=lambda context=None: True)
    assert compat.shutdown_race(RCLError("the given context is not valid"), rclpy_module=down)
    assert not compat.shutdown_race(RCLError("failed to create publisher"), rclpy_module=up)
    assert not compat.shutdown_race(ValueError("x"), rclpy_module=down)
