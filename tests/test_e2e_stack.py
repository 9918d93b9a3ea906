"""End to end through the ROS 2 graph: the whole stack from the launch description lives one (short) day,
answers questions over the public Ask interface with evidence that matches the simulator's ground truth,
and keeps its memory across a restart (the simulator resumes where it stopped)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import ros_env

pytestmark = [pytest.mark.ros, pytest.mark.slow]

DOMAIN = 21


def _true_positions(data_dir, class_name, t_ns):
    from sim import Simulator
    from sim.ground_truth import GroundTruthLog
    sim = Simulator()
    sim.use_ground_truth(GroundTruthLog.load(data_dir / "ground_truth.jsonl"))
    out = []
    for o in sim.world.objects:
        if o.class_name.replace("_", " ") == class_name.replace("_", " "):
            st = sim.object_state(o.object_id, t_ns)
            if st is not None and st.present:
                out.append(np.array(st.position_m))
    return out


def _start(tmp_path, days, name):
    from memory_nodes.ros.demo import LAUNCH_FILE, write_demo_params
    from memory_nodes.ros.launcher import Stack
    data = tmp_path / "data"
    params = write_demo_params(tmp_path / f"{name}_params.yaml", days, camera_rate_hz=2.0, patrol_coverage=0.3)
    stack = Stack.from_file(LAUNCH_FILE, {"data_dir": str(data), "params_file": str(params)},
                            env=ros_env(DOMAIN), echo=False, log_dir=tmp_path / f"logs_{name}")
    return stack.start(), data


def test_one_day_then_questions_then_restart_keeps_memory(tmp_path, ros_context_factory):
    from memory_nodes.ros.ask_client import AskClient
    from memory_nodes.ros.conversions.basic import time_to_ns
    from memory_nodes.ros.demo import DemoMonitor, choose_questions, live_days

    ros = ros_context_factory(DOMAIN, "e2e_test")
    stack, data = _start(tmp_path, 1, "first")
    try:
        monitor = DemoMonitor(context=ros.context)
        live_days(monitor, stack, 1, timeout_s=240, every_s=1e9)
        monitor.spin_for(2.5)      # latched graph republished after the last commit
        st = monitor.snap.status
        assert st.patrols_this_run == 1 and st.last_patrol_day == 0 and st.frames_published > 20
        assert monitor.snap.progress.observations_total > 20 and monitor.snap.progress.views_total > 3
        qs = choose_questions(monitor.snap, budget_m=0.0)
        where = next(q for q in qs if q.purpose == "answered from memory alone")
        client = AskClient(context=ros.context)
        assert client.wait_ready(60.0)
        a = client.ask(where.text, 0.0, 60.0)
        assert a.status == "ANSWERED" and a.query_kind == "where_now", a
        assert a.path_m == 0.0 and a.probability > 0.5
        assert a.evidence_objects and a.observation_ids and a.keyframe_refs and a.evidence_stamps_ns
        kf_files = list((data / "memory.db.keyframes").rglob("*"))
        assert any(ref.split(":")[-1] in f.name for ref in a.keyframe_refs for f in kf_files), a.keyframe_refs
        cls = where.text[len("Where is the "):-1]
        truth = _true_positions(data, cls, time_to_ns(st.header.stamp))
        assert truth and a.has_position
        assert min(np.linalg.norm(np.array(a.position[:2]) - p[:2]) for p in truth) < 0.5, (a.position, truth)
        out = client.ask("Is the stove turned on?", 0.0, 30.0)
        assert out.status == "CANNOT_PARSE" and out.reason and out.path_m == 0.0
        client.close()
        monitor.close()
    finally:
        codes = stack.stop()
    assert all(c is not None for c in codes.values())
    remembered = a

    # restart without a patrol: memory reopens the store and recalls the same object where it was
    stack, data = _start(tmp_path, 0, "second")
    try:
        monitor = DemoMonitor(context=ros.context)
        ros.spin_until(lambda: (monitor.spin_for(0.1) or monitor.snap.status is not None), 60, "sim/status")
        assert monitor.snap.status.day >= 0 and monitor.snap.status.patrols_this_run == 0
        assert time_to_ns(monitor.snap.status.header.stamp) >= time_to_ns(st.header.stamp)
        from builtin_interfaces.msg import Time
        from memory_interfaces.srv import Recall
        recall = ros.node.create_client(Recall, "memory/recall")
        ros.spin_until(recall.service_is_ready, 60, "memory/recall")
        req = Recall.Request(kind="last_seen", class_name=cls, t=Time(), room_id=-1, place_id=-1)
        replies = []

        def active_reply() -> bool:   # the lifecycle manager activates memory shortly after start-up
            # A request can go to the first run's memory node while discovery still lists it (its
            # liveliness lease has not run out on a loaded machine): that one is never answered, so a
            # request unanswered for 10 s is sent again rather than failing the restart.
            try:
                replies.append(ros.wait_future(recall.call_async(req), 10))
            except AssertionError:
                return False
            return replies[-1].error_code != Recall.Response.NOT_ACTIVE
        ros.spin_until(active_reply, 90, "memory active")
        res = replies[-1]
        assert res.error_code == Recall.Response.NONE, res.error_msg
        same = [i for i in res.items if i.object_id in remembered.evidence_objects]
        assert same, [i.object_id for i in res.items]
        p = same[0].position
        assert math.dist((p.x, p.y, p.z), remembered.position) < 0.05
        assert time_to_ns(same[0].stamp) <= time_to_ns(st.header.stamp)
        monitor.close()
    finally:
        stack.stop()
