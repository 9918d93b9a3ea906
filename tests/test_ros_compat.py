"""memory_nodes/ros/compat.py: each Humble/Kilted difference takes the branch the installed rclpy calls for.
Both branches are driven with stand-in modules (no rclpy needed, so this also runs under Python 3.10 in
tests/test_portability_py310.py); where rclpy is installed, the real one is checked too."""
from __future__ import annotations

import types

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
    node_cls, _, ret = compat.lifecycle_api()
    assert node_cls.__name__ == "LifecycleNode" or hasattr(ret, "SUCCESS")
    d = compat.parameter_descriptor(description="x", dynamic_typing=True)
    assert d.description == "x" and d.dynamic_typing
