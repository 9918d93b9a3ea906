"""The ROS layer's shared plumbing: typed parameters from config dataclasses (names, descriptors, ranges that
agree with validate(), YAML overrides and unknown keys), the log-once helper and the main() runner.

Nodes are created in a private rclpy Context on ROS_DOMAIN_ID 7 (foundation range, unused elsewhere)."""
from __future__ import annotations

import math
import signal
import subprocess
import textwrap
from dataclasses import dataclass, field
from typing import Dict, List

import pytest
from conftest import PYTHON, REPO_ROOT, ros_env

from memory_nodes.common.config import config_from_dict, unflatten
from memory_nodes.common.errors import ConfigError

DOMAIN = 7


@dataclass
class Inner:
    rate_hz: float = 5.0                 # how often, per second
    names: List[str] = field(default_factory=list)

    def validate(self) -> None:
        if self.rate_hz < 0.0:
            raise ConfigError("inner.rate_hz must be >= 0")


@dataclass
class Demo:
    width_px: int = 320                  # image width ...
                                         # ... continued on the next line
    # a comment above a field describes it
    label: str = "x"
    enabled: bool = True
    weights: Dict[str, float] = field(default_factory=lambda: {"a": 1.0, "b": 2})   # weight per key
    inner: Inner = field(default_factory=Inner)

    def validate(self) -> None:
        if not 1 <= self.width_px <= 4096:
            raise ConfigError("width_px must be in [1, 4096]")


# ------------------------------------------------------------------------------------------ pure parts
def test_specs_name_type_and_describe_every_field():
    from rclpy.parameter import Parameter

    from memory_nodes.ros.params import config_specs
    specs = {s.name: s for s in config_specs(Demo, ranges={"width_px": (1, 4096), "inner.rate_hz": (0.0, None)})}
    assert set(specs) == {"width_px", "label", "enabled", "weights.a", "weights.b", "inner.rate_hz", "inner.names"}
    assert specs["width_px"].type == Parameter.Type.INTEGER and specs["width_px"].range == (1, 4096)
    assert specs["weights.b"].type == Parameter.Type.DOUBLE and specs["weights.b"].default == 2.0
    assert specs["inner.names"].type == Parameter.Type.STRING_ARRAY and specs["inner.names"].default == []
    assert specs["width_px"].description.startswith("image width ... ... continued on the next line")
    assert specs["label"].description.startswith("a comment above a field describes it")
    assert specs["enabled"].description.startswith("enabled (Demo in ")
    assert specs["weights.a"].description.startswith("weight per key: a")
    assert specs["inner.rate_hz"].description.startswith("how often, per second")
    d = specs["inner.rate_hz"].descriptor()
    fp = d.floating_point_range[0]
    assert d.read_only and fp.from_value == 0.0 and math.isinf(fp.to_value)
    with pytest.raises(ValueError, match="does not declare"):
        config_specs(Demo, ranges={"widht_px": (1, 2)})


def test_real_configs_have_a_description_from_their_comments():
    from memory_nodes.memory import MemoryConfig
    from memory_nodes.ros.params import config_specs
    specs = {s.name: s for s in config_specs(MemoryConfig)}
    assert specs["store.commit_every_frames"].description.startswith("commit after this many ingested frames")
    assert "absorbed, not a new object" in specs["association.absorb_hits_ratio"].description
    assert specs["staleness.prior_rate_per_day.small"].default == 0.5


def _node_sections():
    from memory_nodes.ros import memory_node, perception_node, planner_node
    from sim.ros import sim_node
    return [(mod.__name__, sec) for mod in (memory_node, perception_node, planner_node, sim_node)
            for sec in mod.PARAMETERS]


# bounds the simulator has always declared but its validate() does not check
DESCRIPTOR_ONLY = {("node.real_time_factor", "high"), ("node.start_day", "low"), ("node.start_day", "high")}


def _accepts(sec, name: str, value) -> bool:
    try:
        config_from_dict(sec.cls, unflatten({name[len(sec.prefix):]: value}))
    except ConfigError:
        return False
    return True


@pytest.mark.parametrize("module,sec", _node_sections(), ids=lambda x: x if isinstance(x, str) else x.cls.__name__)
def test_every_declared_range_is_what_validate_enforces(module, sec):
    """A stated range must never disagree with the config: its ends pass validate(), one step beyond fails."""
    from memory_nodes.ros.params import config_specs
    specs = {s.name: s for s in config_specs(sec.cls, sec.prefix, ranges=sec.ranges)}
    for name, (lo, hi) in sec.ranges.items():
        is_int = isinstance(specs[name].default, int)
        step = 1 if is_int else 1e-6 * max(1.0, abs(lo if lo is not None else hi))
        for end, value, beyond in (("low", lo, None if lo is None else lo - step),
                                   ("high", hi, None if hi is None else hi + step)):
            if value is None:
                continue
            assert _accepts(sec, name, value), f"{name}: validate() rejects the range end {value}"
            if (name, end) not in DESCRIPTOR_ONLY:
                assert not _accepts(sec, name, beyond), f"{name}: validate() accepts {beyond}, beyond the range"


def test_log_once_warns_once_per_cause_then_debug_or_throttled():
    from memory_nodes.ros.log_once import LogOnce

    class Logger:
        def __init__(self):
            self.lines = []

        def warning(self, m):
            self.lines.append(("W", m))

        def error(self, m):
            self.lines.append(("E", m))

        def debug(self, m):
            self.lines.append(("D", m))
    lg = Logger()
    log = LogOnce(lg, "bad input")
    assert log.warning("bad_step", "step 3") and not log.warning("bad_step", "step 4")
    assert log.error("other", "x")
    assert [k for k, _ in lg.lines] == ["W", "D", "E"]
    assert lg.lines[0][1] == "bad input (bad_step): step 3 [further 'bad_step' are logged at debug level]"
    assert lg.lines[1][1] == "bad input (bad_step) #2: step 4" and log.count("bad_step") == 2
    now = [0.0]
    lg2 = Logger()
    throttled = LogOnce(lg2, repeat_s=30.0, clock=lambda: now[0])
    for t in (0.0, 10.0, 31.0):
        now[0] = t
        throttled.warning("wait", f"at {t}")
    assert lg2.lines == [("W", "at 0.0"), ("D", "at 10.0"), ("W", "at 31.0")]


# ------------------------------------------------------------------------------------------ with a node
@pytest.fixture
def make_node():
    import rclpy
    from rclpy.context import Context
    ctx = Context()
    rclpy.init(context=ctx, domain_id=DOMAIN)
    nodes = []

    def make(overrides: Dict[str, object], auto: bool = True):
        from rclpy.node import Node
        from rclpy.parameter import Parameter
        n = Node("params_test", context=ctx, automatically_declare_parameters_from_overrides=auto,
                 parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()])
        nodes.append(n)
        return n
    yield make
    for n in nodes:
        n.destroy_node()
    rclpy.shutdown(context=ctx)


@pytest.mark.ros
def test_yaml_overrides_get_descriptors_and_unknown_keys_are_reported(make_node):
    from rcl_interfaces.msg import ParameterType
    from rclpy.parameter import Parameter

    from memory_nodes.ros.params import NodeParameters, Section
    node = make_node({"width_px": 640, "inner.rate_hz": 2, "site_overrides_loaded": True})
    params = NodeParameters(node)
    params.declare_sections([Section(Demo, ranges={"width_px": (1, 4096), "inner.rate_hz": (0.0, None)})])
    cfg = params.read(Demo)
    assert cfg.width_px == 640 and cfg.inner.rate_hz == 2.0 and isinstance(cfg.inner.rate_hz, float)
    assert cfg.weights == {"a": 1.0, "b": 2.0} and cfg.inner.names == []
    d = node.describe_parameter("width_px")          # given in the YAML: still typed, described, read-only
    assert d.read_only and d.type == ParameterType.PARAMETER_INTEGER and d.integer_range[0].to_value == 4096
    assert node.describe_parameter("inner.rate_hz").type == ParameterType.PARAMETER_DOUBLE
    assert not node.set_parameters([Parameter("width_px", value=10)])[0].successful
    assert node.describe_parameter("inner.names").type == ParameterType.PARAMETER_STRING_ARRAY
    assert node.has_parameter("site_overrides_loaded")     # outside every section: ignored

    bad_key = make_node({"inner.rate_hzz": 1.0})
    p2 = NodeParameters(bad_key)
    p2.declare(Demo)
    with pytest.raises(ConfigError, match="unknown key"):
        p2.read(Demo)


@pytest.mark.ros
@pytest.mark.parametrize("auto", [True, False])
@pytest.mark.parametrize("override,needle", [
    ({"width_px": 5000}, "width_px must be in"),            # outside the range: validate()'s own message
    ({"width_px": "wide"}, "width_px"),                      # wrong type: config_from_dict names the key
    ({"inner.rate_hz": -1.0}, "rate_hz must be >= 0"),
])
def test_bad_values_are_config_errors_at_read(make_node, auto, override, needle):
    from memory_nodes.ros.params import NodeParameters, Section
    node = make_node(override, auto=auto)
    params = NodeParameters(node)
    params.declare_sections([Section(Demo, ranges={"width_px": (1, 4096), "inner.rate_hz": (0.0, None)})])
    with pytest.raises(ConfigError, match=needle):
        params.read(Demo)


@pytest.mark.ros
def test_a_declared_range_beyond_validate_is_still_enforced(make_node):
    from memory_nodes.ros.params import NodeParameters, Section
    node = make_node({"width_px": 300}, auto=False)
    params = NodeParameters(node)
    params.declare_sections([Section(Demo, ranges={"width_px": (1, 256)})])     # narrower than validate()
    with pytest.raises(ConfigError, match=r"width_px: 300 is outside its range \[1, 256\]"):
        params.read(Demo)


@pytest.mark.ros
def test_every_node_declares_its_config_files_parameters(make_node):
    """Each node's sections and config/<node>.yaml use one vocabulary: every YAML key is declared."""
    from memory_nodes.common.config import flatten, load_node_params
    from memory_nodes.ros.params import config_specs
    files = {"memory_nodes.ros.memory_node": ("memory.yaml", "memory"),
             "memory_nodes.ros.perception_node": ("perception.yaml", "perception"),
             "memory_nodes.ros.planner_node": ("planner.yaml", "planner"), "sim.ros.sim_node": ("sim.yaml", "sim")}
    by_module: Dict[str, set] = {}
    for module, sec in _node_sections():
        by_module.setdefault(module, set()).update(s.name for s in config_specs(sec.cls, sec.prefix))
    for module, (fname, node_name) in files.items():
        keys = set(flatten(load_node_params(REPO_ROOT / "config" / fname, node_name)))
        assert keys - by_module[module] <= {"data_dir"}, (module, sorted(keys - by_module[module]))


# ------------------------------------------------------------------------------------------ main() runner
_RUNNER = textwrap.dedent("""
    import sys
    import time
    from rclpy.node import Node
    from memory_nodes.common.errors import ConfigError
    from memory_nodes.ros.runner import run_node

    class Good(Node):
        def __init__(self):
            super().__init__("runner_test")
            self.create_timer(0.05, lambda: print("spinning", flush=True))

    class Bad(Node):
        def __init__(self):
            raise ConfigError("node.x must be > 0")

    def slow_save(n):
        print("saving", flush=True)
        time.sleep(1.5)             # a second SIGINT and a SIGTERM arrive now
        print("saved", flush=True)

    kind = sys.argv[1]
    if kind == "slow":
        run_node(Good, before_destroy=slow_save, name="runner_test", what="the test node")
    else:
        run_node(Good if kind == "good" else Bad, executor="multi" if kind == "good" else "single", num_threads=2,
                 before_destroy=lambda n: print("before_destroy", n.get_name(), flush=True), name="runner_test",
                 what="the test node")
    print("returned", flush=True)
""")


@pytest.mark.ros
def test_runner_stops_cleanly_on_ctrl_c_and_reports_start_up_errors():
    env = ros_env(DOMAIN)
    bad = subprocess.run([PYTHON, "-c", _RUNNER, "bad"], env=env, capture_output=True, text=True, timeout=60,
                         cwd=str(REPO_ROOT))
    assert bad.returncode == 1
    assert "cannot start the test node: node.x must be > 0" in bad.stdout + bad.stderr
    assert "Traceback" not in bad.stderr
    p = subprocess.Popen([PYTHON, "-c", _RUNNER, "good"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, cwd=str(REPO_ROOT))
    try:
        assert p.stdout.readline().strip() == "spinning"
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, out
    assert "before_destroy runner_test" in out and out.rstrip().endswith("returned") and "Traceback" not in out


@pytest.mark.ros
def test_signals_during_the_save_before_exit_do_not_cut_it_short():
    """A second Ctrl-C (or ros2 launch's SIGTERM after its SIGINT) while a node saves is logged once; the
    save finishes and the process exits 0 (before: KeyboardInterrupt half-way through the commit)."""
    p = subprocess.Popen([PYTHON, "-c", _RUNNER, "slow"], env=ros_env(DOMAIN), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, cwd=str(REPO_ROOT))
    lines = []
    try:
        assert p.stdout.readline().strip() == "spinning"
        p.send_signal(signal.SIGINT)
        for line in p.stdout:
            lines.append(line)
            if line.strip() == "saving":
                break
        p.send_signal(signal.SIGINT)
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    out = "".join(lines) + out
    assert p.returncode == 0, out
    assert "saved" in out.split() and out.rstrip().endswith("returned") and "Traceback" not in out, out
    assert out.count("while saving and shutting down") == 1, out


def test_unknown_executor_kind_is_an_error():
    from memory_nodes.ros.runner import make_executor
    with pytest.raises(ValueError, match="executor"):
        make_executor("threads")
