"""A memory crash loses nothing perception sent: the perception and memory nodes in their own processes
(ROS_DOMAIN_ID 116), a camera stream through perception, the memory node SIGKILLed mid-stream with frames in
flight, frames sent while it is down, then restarted (a new process: a new publisher of
memory/ingested_through) and activated. Perception resends what memory had not acknowledged; memory refuses
what it had stored already. Every frame perception sent ends up in the store exactly once."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import REPO_ROOT, ros_env

from bench.reliability import _counts as _stored  # (observations, views) per stamp in a store
from memory_nodes.common.geometry import invert_T, pose2d_T
from memory_nodes.perception.synthetic import demo_scene, intrinsics_for, look_at, render

pytestmark = pytest.mark.ros
DOMAIN = 116
SEC = 1_000_000_000


def test_memory_killed_mid_stream_loses_nothing_perception_sent(tmp_path, ros_context_factory):
    from builtin_interfaces.msg import Time
    from lifecycle_msgs.msg import State, Transition
    from lifecycle_msgs.srv import ChangeState, GetState
    from memory_interfaces.msg import FrameObservations, IngestProgress, InstanceClassTable
    from sensor_msgs.msg import CameraInfo, Image
    from tf2_msgs.msg import TFMessage

    from memory_nodes.ros.conversions.basic import (
        intrinsics_to_camera_info,
        make_transform_stamped,
        numpy_to_image,
        time_to_ns,
    )
    from memory_nodes.ros.conversions.perception import class_table_to_msg
    from memory_nodes.ros.qos import EVENTS, LATCHED, RELIABLE_SENSOR, STREAM, TF_STATIC

    store = str(tmp_path / "memory.db")
    params = tmp_path / "perception_test.yaml"
    params.write_text(textwrap.dedent("""
        perception:
          ros__parameters:
            oracle: {miss_prob_base: 0.0, miss_prob_per_m: 0.0, miss_prob_occlusion: 0.0,
                     miss_prob_small: 0.0, confusion_prob: 0.0, false_positive_rate: 0.0}
            views: {min_interval_s: 0.0}
            sync: {reliable: true}
    """))
    env = ros_env(DOMAIN)
    procs = {}
    logs = {}

    def start(name: str, args):
        logs[name] = open(tmp_path / f"{name}.log", "w")
        procs[name] = subprocess.Popen([sys.executable, "-m", *args], env=env, cwd=str(REPO_ROOT), text=True,
                                       stdout=logs[name], stderr=subprocess.STDOUT, start_new_session=True)
        return procs[name]

    def log_of(name: str) -> str:
        logs[name].flush()
        return (tmp_path / f"{name}.log").read_text()[-6000:]

    ros = ros_context_factory(DOMAIN)
    node = ros.node
    try:
        start("perception", ["memory_nodes.ros.perception_node", "--ros-args",
                             "--params-file", str(REPO_ROOT / "config" / "perception.yaml"),
                             "--params-file", str(params)])

        def start_memory(life: int):
            # each life its own node name: discovery may still list the killed one's lifecycle services
            name = f"memory_life{life}"
            start(name, ["memory_nodes.ros.memory_node", "--ros-args", "-r", f"__node:={name}",
                         "-p", f"store.path:={store}", "-p", "node.flush_period_s:=0.1",
                         "-p", "node.max_future_s:=0.0", "-p", "node.min_free_mb:=0.0",
                         "-p", "vocab.allow_model:=false"])
            change = node.create_client(ChangeState, f"{name}/change_state")
            get_state = node.create_client(GetState, f"{name}/get_state")
            ros.spin_until(lambda: change.service_is_ready() and get_state.service_is_ready(), 60,
                           f"{name}/change_state")
            for tid, goal in ((Transition.TRANSITION_CONFIGURE, State.PRIMARY_STATE_INACTIVE),
                              (Transition.TRANSITION_ACTIVATE, State.PRIMARY_STATE_ACTIVE)):
                for _ in range(3):        # a reply can be lost while the service's response path matches:
                    fut = change.call_async(ChangeState.Request(transition=Transition(id=tid)))
                    try:                  # then the node's state says whether the transition happened
                        ros.spin_until(fut.done, 20, f"{name} transition {tid}")
                        assert fut.result().success, f"{name} transition {tid}\n{log_of(name)}"
                        break
                    except AssertionError:
                        state = ros.wait_future(get_state.call_async(GetState.Request()), 20).current_state.id
                        if state == goal:
                            break
                else:
                    raise AssertionError(f"{name} transition {tid}: no reply\n{log_of(name)}")
            node.destroy_client(change)
            node.destroy_client(get_state)
            return name

        pubs = {t: node.create_publisher(Image, t, RELIABLE_SENSOR)
                for t in ("camera/color/image_raw", "camera/depth/image_raw", "camera/instances/image_raw")}
        pub_info = node.create_publisher(CameraInfo, "camera/color/camera_info", RELIABLE_SENSOR)
        pub_table = node.create_publisher(InstanceClassTable, "camera/class_table", LATCHED)
        pub_tf = node.create_publisher(TFMessage, "/tf", EVENTS)
        pub_tf_static = node.create_publisher(TFMessage, "/tf_static", TF_STATIC)
        acks, sent, progress = [], {}, []
        resent = {"n": 0}

        def on_frame(m):                 # what perception sent (first sends; resends counted apart)
            t = time_to_ns(m.header.stamp)
            if t in sent:
                resent["n"] += 1
            else:
                sent[t] = (len(m.observations), len(m.view))
        node.create_subscription(FrameObservations, "perception/frames", on_frame, STREAM)
        node.create_subscription(Time, "perception/frame_ack", lambda m: acks.append(time_to_ns(m)), EVENTS)
        node.create_subscription(IngestProgress, "memory/ingested_through",
                                 lambda m: progress.append(time_to_ns(m.ingested_through)), EVENTS)

        objects, walls = demo_scene()
        K = intrinsics_for(320, 240)
        map_T_base = pose2d_T(0.0, 0.0, 0.0)
        map_T_cam = look_at((0.1, 0.0, 1.15), (2.0, 0.0, 0.3))
        pub_table.publish(class_table_to_msg({o.instance_id: o.class_name for o in objects}))
        pub_tf_static.publish(TFMessage(transforms=[
            make_transform_stamped(np.eye(4), "map", "odom", 0),
            make_transform_stamped(invert_T(map_T_base) @ map_T_cam, "base_link", "camera_optical", 0)]))
        image = render(objects, K, map_T_cam, SEC, walls=walls)
        ros.spin_until(lambda: procs["perception"].poll() is not None or all(
            node.count_subscribers(t) > 0 for t in pubs), 60, "perception's camera subscriptions")
        assert procs["perception"].poll() is None, log_of("perception")

        stamp = {"t": 10 * SEC}

        def send() -> int:
            """One camera set through perception, in lockstep (its frame_ack); returns the stamp."""
            t = stamp["t"] = stamp["t"] + SEC // 10
            pub_tf.publish(TFMessage(transforms=[make_transform_stamped(map_T_base, "odom", "base_link", t)]))
            ros.spin_once(0.005)
            for _ in range(10):           # until perception has the latched class table, a set may find none
                pubs["camera/color/image_raw"].publish(numpy_to_image(image.rgb, "rgb8", "camera_optical", t))
                pubs["camera/depth/image_raw"].publish(numpy_to_image(image.depth_m, "32FC1", "camera_optical", t))
                pubs["camera/instances/image_raw"].publish(
                    numpy_to_image(image.instance_mask, "32SC1", "camera_optical", t))
                pub_info.publish(intrinsics_to_camera_info(K, "camera_optical", t))
                try:
                    ros.spin_until(lambda: t in acks, 3.0, f"perception's ack of {t}")
                    return t
                except AssertionError:
                    assert procs["perception"].poll() is None, log_of("perception")
            raise AssertionError(f"no ack of {t}\n{log_of('perception')}")

        first = start_memory(0)
        ros.spin_until(lambda: progress, 30, "memory's first ingested_through")
        for _ in range(25):
            send()
        # SIGKILL with the last frames in flight (memory commits every 0.1 s: some are unacknowledged)
        os.killpg(procs[first].pid, signal.SIGKILL)
        procs[first].wait(timeout=10)
        for _ in range(15):               # sent while memory is down
            send()
        start_memory(1)
        for _ in range(15):
            send()
        last = stamp["t"]
        frames = {t: v for t, v in sent.items() if v[0] or v[1]}
        assert len(frames) >= 50, f"perception sent only {len(frames)} frames with content"

        def all_stored() -> bool:
            obs, views = _stored(store)
            return all(t in obs or t in views for t in frames)
        try:
            ros.spin_until(lambda: max(progress) >= last and all_stored(), 60,
                           "every frame perception sent in the store")
        except AssertionError:
            pass                          # said below: which frames are missing, with perception's log
        obs, views = _stored(store)
        missing = [t for t in frames if t not in obs and t not in views]
        assert not missing, (f"{len(missing)} of {len(frames)} frame(s) perception sent are not stored: "
                             f"{missing[:5]}\n{log_of('perception')}")
        doubled = {t: (obs.get(t), views.get(t), frames[t]) for t in frames
                   if obs.get(t, 0) > frames[t][0] or views.get(t, 0) > frames[t][1]}
        assert not doubled, f"frames stored twice (stored obs, views; sent): {list(doubled.items())[:5]}"
        assert set(obs) | set(views) <= set(sent), "the store holds a frame perception never sent"
        # the restarted memory got a resend (frames sent while it was down at least), and perception says so
        assert resent["n"] >= 15, f"only {resent['n']} frame(s) resent\n{log_of('perception')}"
        assert "resending" in log_of("perception")
    finally:
        for p in procs.values():
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGINT)
        for p in procs.values():
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=5)
        for f in logs.values():
            f.close()
