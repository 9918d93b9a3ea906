"""Bring-up: every node's parameters are the same with and without a namespace, with either launcher.

The whole stack (with_sim:=true: all five nodes) is started twice at once, in domains 96 and 97, once under
namespace:=robot1 and once without; each node's parameters are read back over the standard parameter
services (rcl_interfaces ListParameters + GetParameters) and compared. The same under a real `ros2 launch`
where launch / launch_ros and the ros2 CLI are installed (domain 98), else that test skips saying so.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest
from conftest import REPO_ROOT, RosContext, ros_env, wait_until

from memory_nodes.ros.launcher import Stack

pytestmark = pytest.mark.ros

LAUNCH = REPO_ROOT / "launch" / "memory_stack.launch.yaml"
NODES = ("sim", "perception", "memory", "planner", "lifecycle_manager")
START_S = 120.0          # 2 stacks x 5 nodes on a loaded 2-core machine
# a parameter each node declares from its config: the parameter services answer from rclpy's Node.__init__
# on, before the node's own __init__ has declared anything, so a read waits for it (and a steady list)
SENTINEL = {"sim": "world.seed", "perception": "detector.kind", "memory": "association.weight_color",
            "planner": "utility.lambda_per_m", "lifecycle_manager": "autostart"}


def _args(data_dir: Path, namespace: str) -> Dict[str, str]:
    # the repository's config/ (an installed share/ copy may predate a change under test)
    return {"namespace": namespace, "with_sim": "true", "data_dir": str(data_dir),
            "config_dir": str(REPO_ROOT / "config")}


def read_parameters(ctx: RosContext, fqn: str, sentinel: str, timeout_s: float = START_S) -> Dict[str, object]:
    """All parameters of node ``fqn`` over its list_parameters / get_parameters services, once ``sentinel``
    is declared and two lists in a row agree."""
    from rcl_interfaces.srv import GetParameters, ListParameters
    from rclpy.parameter import parameter_value_to_python
    lister = ctx.node.create_client(ListParameters, f"{fqn}/list_parameters")
    getter = ctx.node.create_client(GetParameters, f"{fqn}/get_parameters")
    ctx.spin_until(lambda: lister.service_is_ready() and getter.service_is_ready(), timeout_s,
                   what=f"{fqn}'s parameter services")
    seen: list = [None]

    def settled() -> bool:
        names = sorted(ctx.wait_future(lister.call_async(ListParameters.Request(depth=0)), 30,
                                       f"{fqn} list_parameters").result.names)
        done = sentinel in names and names == seen[0]
        seen[0] = names
        return done

    wait_until(settled, timeout_s, spin=lambda: ctx.spin_once(0.2), what=f"{fqn}'s parameters declared")
    names = seen[0]

    def get(some):
        return list(ctx.wait_future(getter.call_async(GetParameters.Request(names=some)), 30,
                                    f"{fqn} get_parameters").values)
    values = get(names)
    if len(values) == len(names):
        return {n: parameter_value_to_python(v) for n, v in zip(names, values)}
    out: Dict[str, object] = {}     # rclpy answers nothing at all when one of them is declared without a value
    for n in names:
        one = get([n])
        out[n] = parameter_value_to_python(one[0]) if one else "<no value>"
    return out


def _normalized(params: Dict[str, object], data_dir: Path) -> Dict[str, object]:
    """Values that legitimately differ between the runs (the data folder) spelled alike."""
    return {k: (v.replace(str(data_dir), "<data_dir>") if isinstance(v, str) else v) for k, v in params.items()}


def _read_stack(ctx: RosContext, namespace: str, data_dir: Path) -> Dict[str, Dict[str, object]]:
    prefix = f"/{namespace}" if namespace else ""
    return {n: _normalized(read_parameters(ctx, f"{prefix}/{n}", SENTINEL[n]), data_dir) for n in NODES}


def _check_same_and_configured(plain: Dict[str, Dict[str, object]], spaced: Dict[str, Dict[str, object]]) -> None:
    import yaml
    for n in NODES:
        assert spaced[n] == plain[n], (n, {k: (plain[n].get(k), spaced[n].get(k))
                                           for k in set(plain[n]) | set(spaced[n])
                                           if plain[n].get(k) != spaced[n].get(k)})
    memory_cfg = yaml.safe_load((REPO_ROOT / "config" / "memory.yaml").read_text())
    weight_color = memory_cfg["/**/memory"]["ros__parameters"]["association"]["weight_color"]   # code: 1.0
    planner_cfg = yaml.safe_load((REPO_ROOT / "config" / "planner.yaml").read_text())
    lam = planner_cfg["/**/planner"]["ros__parameters"]["utility"]["lambda_per_m"]
    for params in (plain, spaced):
        assert params["planner"]["utility.lambda_per_m"] == pytest.approx(lam)
        assert params["memory"]["association.weight_color"] == pytest.approx(weight_color)
        assert params["perception"]["detector.kind"] == "oracle"
        assert params["memory"]["use_sim_time"] is True and params["planner"]["use_sim_time"] is True


def test_parameters_apply_under_any_namespace_with_the_pip_runner(tmp_path):
    stacks, contexts = {}, {}
    try:
        for domain, ns in ((96, ""), (97, "robot1")):
            data = tmp_path / f"data_{ns or 'root'}"
            stacks[ns] = Stack.from_file(LAUNCH, _args(data, ns), env=ros_env(domain), echo=False,
                                         log_dir=tmp_path / f"logs_{ns or 'root'}").start()
            contexts[ns] = (RosContext(domain, "param_reader"), data)
        warnings = [w for s in stacks.values() for w in s.description.warnings]
        assert warnings == []
        plain = _read_stack(contexts[""][0], "", contexts[""][1])
        spaced = _read_stack(contexts["robot1"][0], "robot1", contexts["robot1"][1])
    finally:
        codes = {ns: s.stop() for ns, s in stacks.items()}
        for c, _ in contexts.values():
            c.close()
    _check_same_and_configured(plain, spaced)
    assert all(rc is not None for c in codes.values() for rc in c.values())
    for ns in ("root", "robot1"):
        for n in NODES:
            log = (tmp_path / f"logs_{ns}" / f"{n}.log").read_text()
            assert "no parameter file has a section" not in log, (ns, n, log[-2000:])
            assert "nothing publishes /clock" not in log, (ns, n)


def _real_launch_missing() -> str:
    try:
        import launch_ros  # noqa: F401

        import launch  # noqa: F401
    except ImportError as e:
        return f"launch / launch_ros are not installed ({e.name}): this pip install runs the pip runner only"
    if shutil.which("ros2") is None:
        return "the ros2 CLI is not installed"
    return ""


@pytest.mark.skipif(bool(_real_launch_missing()), reason=_real_launch_missing() or "-")
def test_parameters_apply_under_any_namespace_with_ros2_launch(tmp_path):
    ctx = RosContext(98, "param_reader")
    procs = {}
    try:
        for ns in ("", "robot1"):
            data = tmp_path / f"data_{ns or 'root'}"
            args = [f"{k}:={v}" for k, v in _args(data, ns).items()]
            log = (tmp_path / f"ros2_launch_{ns or 'root'}.log").open("w")
            procs[ns] = (subprocess.Popen(["ros2", "launch", str(LAUNCH), *args], env=ros_env(98), stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True), data)
            if not ns:      # one domain: the two stacks' nodes differ by namespace only, the sim's /clock too
                plain = _read_stack(ctx, "", data)
                _stop(procs[ns][0])
        spaced = _read_stack(ctx, "robot1", procs["robot1"][1])
    finally:
        for p, _ in procs.values():
            _stop(p)
        ctx.close()
    _check_same_and_configured(plain, spaced)


def _stop(p: subprocess.Popen) -> None:
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGINT)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(10)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
