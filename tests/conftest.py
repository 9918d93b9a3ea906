"""Shared fixtures. ROS tests each get their own ROS_DOMAIN_ID so they never hear each other.

Domain ids by area (fixed ranges, so parallel areas never collide): foundation 1-20, end-to-end 21-30,
sim 41-50, memory 51-60, planner 61-70, perception 71-80, benchmark 81-90.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, Optional

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# Keep DDS discovery on this machine (Humble reads ROS_LOCALHOST_ONLY, Jazzy+ the discovery range).
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_LOCALHOST_ONLY", "1")
os.environ.setdefault("RCUTILS_COLORIZED_OUTPUT", "0")
# Large shared-memory segments so RELIABLE camera streams do not stall (see config/dds/). The wheels' Fast DDS 3
# reads this name (Humble/Jazzy's Fast DDS 2 reads FASTRTPS_DEFAULT_PROFILES_FILE).
os.environ.setdefault("FASTDDS_DEFAULT_PROFILES_FILE", str(REPO_ROOT / "config" / "dds" / "fastdds_large_shm.xml"))


def ros_env(domain_id: int, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """Environment for a subprocess that joins ROS domain ``domain_id``."""
    env = dict(os.environ)
    env["ROS_DOMAIN_ID"] = str(domain_id)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("PYTHONPATH", "")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env["PYTHONPATH"]) if p)
    if extra:
        env.update(extra)
    return env


def require_default_model() -> None:
    """The setup installs the default detector: without it a test that needs it fails, saying why, unless
    the user chose to leave it out (SETUP_SKIP_DETECTOR=1: then it skips)."""
    from memory_nodes.perception.detector_models import default_model_missing
    why = default_model_missing()
    if not why:
        return
    if os.environ.get("SETUP_SKIP_DETECTOR") == "1":
        pytest.skip(f"{why} (SETUP_SKIP_DETECTOR=1)")
    pytest.fail(why)


@pytest.fixture
def default_model() -> None:
    require_default_model()


def wait_until(predicate: Callable[[], bool], timeout_s: float, spin: Optional[Callable[[], None]] = None,
               what: str = "condition") -> None:
    """Poll ``predicate`` (spinning ``spin`` between polls) until true or fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        if spin is not None:
            spin()
        else:
            time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


class RosContext:
    """An rclpy context on its own domain, with a node and a helper to spin it."""

    def __init__(self, domain_id: int, node_name: str = "test_client"):
        import rclpy
        self.rclpy = rclpy
        self.domain_id = domain_id
        self.context = rclpy.context.Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node(node_name, context=self.context)
        from rclpy.executors import SingleThreadedExecutor
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def spin_once(self, timeout_s: float = 0.05) -> None:
        self.executor.spin_once(timeout_sec=timeout_s)

    def spin_until(self, predicate: Callable[[], bool], timeout_s: float, what: str = "condition") -> None:
        wait_until(predicate, timeout_s, spin=self.spin_once, what=what)

    def wait_future(self, fut, timeout_s: float, what: str = "reply"):
        self.spin_until(fut.done, timeout_s, what)
        return fut.result()

    def call_read_only(self, client, req, timeout_s: float, what: str = "reply", resend_s: float = 3.0):
        """Call a service that changes nothing, sending again every ``resend_s`` while unanswered: a first
        request can lose its reply though service_is_ready() is true (the server has not yet matched the
        client's response reader; ros2/rmw_fastrtps#238), seen on loaded CI. The first reply wins."""
        futures = [client.call_async(req)]
        deadline = time.monotonic() + timeout_s
        while True:
            resend_at = min(deadline, time.monotonic() + resend_s)
            while time.monotonic() < resend_at and not any(f.done() for f in futures):
                self.spin_once()
            if any(f.done() for f in futures):
                break
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what} "
                                     f"({len(futures)} request(s) sent)")
            futures.append(client.call_async(req))
        for f in futures:
            if not f.done():
                client.remove_pending_request(f)
        return next(f.result() for f in futures if f.done())

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.rclpy.shutdown(context=self.context)


@pytest.fixture
def ros_context_factory():
    made = []

    def make(domain_id: int, node_name: str = "test_client") -> RosContext:
        ctx = RosContext(domain_id, node_name)
        made.append(ctx)
        return ctx

    yield make
    for c in made:
        c.close()


@pytest.fixture
def process_factory():
    """Start subprocesses that are always stopped (SIGINT, then SIGKILL) at the end of the test."""
    procs = []

    def start(args, env, **kw) -> subprocess.Popen:
        p = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True, **kw)
        procs.append(p)
        return p

    yield start
    import signal
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGINT)
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=5)


PYTHON = sys.executable


def tiny_onnx_detector(path) -> str:
    """A two-box "boxes_scores" ONNX detector taking a 1x3x48x64 image (its output does not depend on the
    image): for tests of the ONNX wrapper's providers and model choice. Needs the onnx package."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    boxes = np.array([[[4, 4, 20, 20], [30, 10, 60, 40]]], np.float32)
    scores = np.array([[[0.9, 0.1], [0.2, 0.8]]], np.float32)
    nodes = [helper.make_node("ReduceMean", ["image"], ["m"], keepdims=0),
             helper.make_node("Mul", ["m", "zero"], ["m0"]),
             helper.make_node("Add", ["m0", "scores_c"], ["scores"]),
             helper.make_node("Identity", ["boxes_c"], ["boxes"])]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 48, 64])],
        [helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, 2, 4]),
         helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 2, 2])],
        [numpy_helper.from_array(np.float32(0.0), "zero"), numpy_helper.from_array(scores, "scores_c"),
         numpy_helper.from_array(boxes, "boxes_c")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return str(path)
