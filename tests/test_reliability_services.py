"""Reliability of the services under load (ROS_DOMAIN_ID 102): the real memory node and planner node in their
own processes, frames fed by the test meanwhile. 20 concurrent Asks and 30 concurrent Recalls are all
answered (an answer or BUSY, never silence; rclpy's default service queue of 10 dropped the rest), and each
bad Ask / AskActive field is BAD_REQUEST naming it. Latencies (p50/p95) are printed."""
from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import PYTHON, REPO_ROOT, RosContext, ros_env
from test_memory_node import _frame_msg, _static_msgs

pytestmark = pytest.mark.ros

DOMAIN = 102
T0 = 1000 * 10 ** 9


def _p(xs, q):
    return float(np.percentile(np.asarray(xs) * 1e3, q)) if xs else float("nan")


@pytest.fixture(scope="module")
def stack(tmp_path_factory, request):
    import signal
    import subprocess

    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState
    from memory_interfaces.msg import FrameObservations, PlaceGraph, RoomSegmentation

    from memory_nodes.ros.qos import LATCHED, STREAM
    data = tmp_path_factory.mktemp("services")
    env = ros_env(DOMAIN)
    procs = [
        subprocess.Popen([PYTHON, "-m", "memory_nodes.ros.memory_node", "--ros-args",
                          "--params-file", str(REPO_ROOT / "config" / "memory.yaml"), "-p", f"data_dir:={data}",
                          "-p", "node.flush_period_s:=0.1", "-p", "vocab.allow_model:=false"],
                         env=env, cwd=str(REPO_ROOT), start_new_session=True),
        subprocess.Popen([PYTHON, "-m", "memory_nodes.ros.planner_node", "--ros-args",
                          "-p", "parser.use_embeddings:=false", "-p", "node.server_wait_s:=10.0",
                          "-p", "node.service_timeout_s:=20.0"],
                         env=env, cwd=str(REPO_ROOT), start_new_session=True),
    ]
    ctx = RosContext(DOMAIN, "services_test_client")
    try:
        node = ctx.node
        change = node.create_client(ChangeState, "memory/change_state")
        ctx.spin_until(change.service_is_ready, 60, "memory/change_state")
        for tid in (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
            fut = change.call_async(ChangeState.Request(transition=Transition(id=tid)))
            assert ctx.wait_future(fut, 30).success
        pub_frames = node.create_publisher(FrameObservations, "perception/frames", STREAM)
        pub_places = node.create_publisher(PlaceGraph, "perception/places", LATCHED)
        pub_rooms = node.create_publisher(RoomSegmentation, "perception/rooms", LATCHED)
        pl, rm = _static_msgs(T0)
        pub_places.publish(pl)
        pub_rooms.publish(rm)
        ctx.spin_until(lambda: pub_frames.get_subscription_count() > 0, 30, "memory subscribed")
        state = {"k": 0}

        def feed(n: int = 1) -> None:
            """Publish the next n frames (the ingest the services answer under)."""
            for _ in range(n):
                k = state["k"]
                pub_frames.publish(_frame_msg(T0 + k * 100_000_000, f"v{k}", k % 3 != 2))
                state["k"] = k + 1
        ctx.feed = feed
        feed(10)
        yield ctx
    finally:
        ctx.close()
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)


def _burst(ctx, client, requests, timeout_s: float, what: str):
    """Send every request at once, feed a frame every 50 ms while they are out; (responses, latencies s) once
    all came (a latency is when this client saw the reply: spins of at most 5 ms)."""
    t0 = time.monotonic()
    futs = [client.call_async(r) for r in requests]
    done_at = {}
    fed = 0.0
    deadline = t0 + timeout_s
    while len(done_at) < len(futs) and time.monotonic() < deadline:
        ctx.spin_once(0.005)
        now = time.monotonic()
        for i, f in enumerate(futs):
            if f.done():
                done_at.setdefault(i, now)
        if now - fed > 0.05:
            ctx.feed(1)
            fed = now
    missing = len(futs) - len(done_at)
    assert not missing, f"{missing} of {len(futs)} {what} unanswered after {timeout_s:.0f} s"
    return [f.result() for f in futs], [done_at[i] - t0 for i in range(len(futs))]


def test_20_concurrent_asks_during_ingest_are_all_answered(stack, capsys):
    from memory_interfaces.srv import Ask

    from memory_nodes.ros.qos import services_qos
    cli = stack.node.create_client(Ask, "ask", qos_profile=services_qos(100))   # our responses must fit too
    stack.spin_until(cli.service_is_ready, 60, "ask service")
    warm = Ask.Request(question="where is the cup?", timeout_s=30.0)
    assert stack.wait_future(cli.call_async(warm), 60, "a first answer").error_code == Ask.Response.NONE
    reqs = [Ask.Request(question=q, timeout_s=30.0) for q in ("where is the cup?", "how many cups are there?",
                                                             "when did you last see the cup?", "where is the sofa?")
            * 5]
    resps, lat = _burst(stack, cli, reqs, 60, "asks")
    codes = [r.error_code for r in resps]
    with capsys.disabled():
        print(f"\n20 concurrent asks: {codes.count(Ask.Response.NONE)} answered, {codes.count(Ask.Response.BUSY)} "
              f"BUSY; latency p50 {_p(lat, 50):.0f} ms, p95 {_p(lat, 95):.0f} ms")
    assert set(codes) <= {Ask.Response.NONE, Ask.Response.BUSY}, [(r.error_code, r.error_msg) for r in resps]
    assert codes.count(Ask.Response.NONE) >= 1
    assert all("busy" in r.error_msg for r in resps if r.error_code == Ask.Response.BUSY)


def test_30_concurrent_recalls_during_ingest_are_all_answered(stack, capsys):
    from memory_interfaces.srv import Recall

    from memory_nodes.ros.qos import services_qos
    cli = stack.node.create_client(Recall, "memory/recall", qos_profile=services_qos(100))
    stack.spin_until(cli.service_is_ready, 30, "memory/recall")
    kinds = ("last_seen", "count", "history", "objects_in", "places", "changes")
    reqs = [Recall.Request(kind=kinds[i % len(kinds)], class_name="cup", room_id=-1, place_id=-1)
            for i in range(30)]
    resps, lat = _burst(stack, cli, reqs, 30, "recalls")
    with capsys.disabled():
        print(f"\n30 concurrent recalls: latency p50 {_p(lat, 50):.0f} ms, p95 {_p(lat, 95):.0f} ms")
    assert [r.error_code for r in resps] == [Recall.Response.NONE] * 30, [r.error_msg for r in resps]


def _bad_asks():
    """(field the error must name, request fields): each one bad field, the rest fine."""
    year_ns = 365 * 86400 * 10 ** 9
    now_ns = time.time_ns()
    nan, inf = float("nan"), float("inf")
    return [("question", {"question": ""}), ("question", {"question": "   "}),
            ("question", {"question": "where is the cup? " * 200}), ("question", {"question": "where\x07 is it"}),
            ("budget_m", {"budget_m": nan}), ("budget_m", {"budget_m": -1.0}), ("budget_m", {"budget_m": inf}),
            ("timeout_s", {"timeout_s": nan}), ("timeout_s", {"timeout_s": -5.0}),
            ("window", {"window_start": 2_000_000_000, "window_end": 1_000_000_000}),
            ("window_start", {"window_start": (now_ns + year_ns) // 10 ** 9,
                              "window_end": (now_ns + year_ns) // 10 ** 9 + 3600})]


def _fill(req, fields):
    req.question = "where is the cup?"
    req.timeout_s = 20.0
    for k, v in fields.items():
        if k in ("window_start", "window_end"):
            getattr(req, k).sec = v
        else:
            setattr(req, k, v)
    return req


def test_each_bad_ask_field_is_bad_request_naming_it(stack):
    from memory_interfaces.srv import Ask

    from memory_nodes.ros.qos import services_qos
    cli = stack.node.create_client(Ask, "ask", qos_profile=services_qos(100))
    stack.spin_until(cli.service_is_ready, 60, "ask service")
    cases = _bad_asks()
    resps, _ = _burst(stack, cli, [_fill(Ask.Request(), f) for _, f in cases], 30, "bad asks")
    for (field, fields), r in zip(cases, resps):
        assert r.error_code == Ask.Response.BAD_REQUEST and r.error_msg.startswith(field), (fields, r.error_msg)


def test_bad_ask_active_goal_is_bad_request_naming_the_field(stack):
    from memory_interfaces.action import AskActive
    from rclpy.action import ActionClient
    ac = ActionClient(stack.node, AskActive, "ask_active")
    stack.spin_until(ac.server_is_ready, 30, "ask_active")
    for field, fields in (("budget_m", {"budget_m": float("nan")}), ("timeout_s", {"timeout_s": -1.0}),
                          ("window", {"window_start": 2_000_000_000, "window_end": 1_000_000_000})):
        handle = stack.wait_future(ac.send_goal_async(_fill(AskActive.Goal(), fields)), 20, "goal response")
        assert handle.accepted
        res = stack.wait_future(handle.get_result_async(), 20, "result").result
        assert res.error_code == AskActive.Result.BAD_REQUEST and res.error_msg.startswith(field), res.error_msg
