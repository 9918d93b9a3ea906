"""The perception node in another process: synchronized camera messages + /tf in; one FrameObservations
per frame (observations, and the View of a keyframe), places and frame acks out; each bad frame rejected
with its cause logged once, and the node stays up."""
from __future__ import annotations

import os
import signal
import sys
import textwrap

import numpy as np
import pytest
from conftest import REPO_ROOT, ros_env

from memory_nodes.common.geometry import invert_T, pose2d_T
from memory_nodes.perception.synthetic import demo_scene, intrinsics_for, look_at, render

pytestmark = pytest.mark.ros
DOMAIN = 71
SEC = 1_000_000_000


def _params(tmp_path) -> str:
    p = tmp_path / "perception_test.yaml"
    p.write_text(textwrap.dedent(f"""
        perception:
          ros__parameters:
            oracle: {{miss_prob_base: 0.0, miss_prob_per_m: 0.0, miss_prob_occlusion: 0.0,
                     miss_prob_small: 0.0, confusion_prob: 0.0, false_positive_rate: 0.0}}
            views: {{min_interval_s: 0.0}}
            sync: {{reliable: true}}
            persistence: {{state_file: "{tmp_path / 'state' / 'perception_state.npz'}"}}
    """))
    return str(p)


def test_node_publishes_and_survives_bad_frames(tmp_path, ros_context_factory, process_factory):
    from builtin_interfaces.msg import Time
    from memory_interfaces.msg import FrameObservations, InstanceClassTable, PlaceGraph
    from sensor_msgs.msg import CameraInfo, Image
    from tf2_msgs.msg import TFMessage

    from memory_nodes.ros.conversions.basic import (
        intrinsics_to_camera_info,
        make_transform_stamped,
        numpy_to_image,
        time_to_ns,
    )
    from memory_nodes.ros.conversions.perception import class_table_to_msg, observations_from_msg, view_from_msg
    from memory_nodes.ros.qos import EVENTS, LATCHED, TF_STATIC
    from memory_nodes.ros.qos import RELIABLE_SENSOR as RELIABLE_CAMERA

    proc = process_factory([sys.executable, "-m", "memory_nodes.ros.perception_node", "--ros-args",
                            "--params-file", str(REPO_ROOT / "config" / "perception.yaml"),
                            "--params-file", _params(tmp_path)],
                           env=ros_env(DOMAIN), cwd=str(REPO_ROOT))
    ros = ros_context_factory(DOMAIN)
    node = ros.node
    # RELIABLE camera QoS (sync.reliable), as the simulator publishes in lockstep: best effort loses large
    # images on a loaded machine
    pubs = {name: node.create_publisher(Image, name, RELIABLE_CAMERA)
            for name in ("camera/color/image_raw", "camera/depth/image_raw", "camera/instances/image_raw")}
    pub_info = node.create_publisher(CameraInfo, "camera/color/camera_info", RELIABLE_CAMERA)
    pub_table = node.create_publisher(InstanceClassTable, "camera/class_table", LATCHED)
    pub_tf = node.create_publisher(TFMessage, "/tf", EVENTS)
    pub_tf_static = node.create_publisher(TFMessage, "/tf_static", TF_STATIC)
    acks, arrays, views, places = [], [], [], []

    def on_frame(m):                  # one message per frame: its observations and, for a keyframe, its view
        arrays.append(m)
        views.extend(m.view)
    node.create_subscription(Time, "perception/frame_ack", lambda m: acks.append(time_to_ns(m)), EVENTS)
    node.create_subscription(FrameObservations, "perception/frames", on_frame, EVENTS)
    node.create_subscription(PlaceGraph, "perception/places", places.append, LATCHED)

    objects, walls = demo_scene()
    K = intrinsics_for(320, 240)
    map_T_base = pose2d_T(0.0, 0.0, 0.0)
    map_T_cam = look_at((0.1, 0.0, 1.15), (2.0, 0.0, 0.3))
    base_T_cam = invert_T(map_T_base) @ map_T_cam
    pub_table.publish(class_table_to_msg({o.instance_id: o.class_name for o in objects}))
    pub_tf_static.publish(TFMessage(transforms=[
        make_transform_stamped(np.eye(4), "map", "odom", 0),
        make_transform_stamped(base_T_cam, "base_link", "camera_optical", 0)]))

    ros.spin_until(lambda: proc.poll() is not None or all(node.count_subscribers(t) > 0 for t in pubs)
                   and node.count_publishers("perception/frame_ack") > 0, 30.0, "the node's subscriptions")
    assert proc.poll() is None, proc.stdout.read()

    def send(stamp_ns, rgb=None, depth=None, depth_enc="32FC1", rgb_step=None, with_tf=True):
        frame = render(objects, K, map_T_cam, stamp_ns, walls=walls)
        if with_tf:
            pub_tf.publish(TFMessage(transforms=[make_transform_stamped(map_T_base, "odom", "base_link", stamp_ns)]))
            ros.spin_once(0.01)
        rgb_msg = numpy_to_image(frame.rgb if rgb is None else rgb, "rgb8", "camera_optical", stamp_ns)
        if rgb_step is not None:
            rgb_msg.step = rgb_step
        d = frame.depth_m if depth is None else depth
        if depth_enc == "16UC1":
            d = np.nan_to_num(d * 1000.0, nan=0.0).astype(np.uint16)
        depth_msg = numpy_to_image(d, depth_enc, "camera_optical", stamp_ns)
        inst_msg = numpy_to_image(frame.instance_mask, "32SC1", "camera_optical", stamp_ns)
        # until the node has the class table the first frames may find no table; resend is harmless
        for _ in range(10):
            pubs["camera/color/image_raw"].publish(rgb_msg)
            pubs["camera/depth/image_raw"].publish(depth_msg)
            pubs["camera/instances/image_raw"].publish(inst_msg)
            pub_info.publish(intrinsics_to_camera_info(K, "camera_optical", stamp_ns))
            try:
                ros.spin_until(lambda: stamp_ns in acks or proc.poll() is not None, 2.0, f"ack of {stamp_ns}")
                break
            except AssertionError:
                continue
        if stamp_ns not in acks:
            os.killpg(proc.pid, signal.SIGINT)
            raise AssertionError(f"no ack of {stamp_ns}; node log:\n{proc.communicate(timeout=15)[0]}")
        assert proc.poll() is None

    # a good frame (the class table is latched; wait for the first frame to be processed)
    t = 1 * SEC
    for _ in range(20):
        send(t)
        if arrays and time_to_ns(arrays[-1].header.stamp) == t:
            break
        t += SEC // 5
    assert arrays, "no observations for a good frame"
    obs = observations_from_msg(arrays[-1])
    mug = [o for o in obs if o.class_name == "mug"]
    assert len(mug) == 1 and np.linalg.norm(mug[0].centroid_m - np.array([1.6, 0.0, 0.05])) < 0.03
    assert {o.class_name for o in obs} >= {"mug", "book", "ball", "stove"}
    ros.spin_until(lambda: views and places, 10.0, "a view and the place graph")
    view = view_from_msg(views[-1])
    assert view.depth_m.shape == (120, 160) and view.color_jpeg[:2] == b"\xff\xd8"
    assert np.allclose(view.map_T_camera, map_T_cam, atol=1e-6)
    assert len(places[-1].places) == 1

    # bad frames: each is acknowledged (the simulator's lockstep goes on) and produces no observations
    n_good = len(arrays)
    bad = [dict(rgb_step=320 * 3 - 1), dict(depth_enc="mono8", depth=np.zeros((240, 320), np.uint8)),
           dict(depth=np.full((240, 320), np.nan, np.float32)), dict(with_tf=False)]
    for kw in bad + bad:
        t += 10 * SEC        # far past the last transform: missing_tf when no tf is sent
        send(t, **kw)
    for _ in range(5):
        ros.spin_once(0.05)
    assert len(arrays) == n_good

    # 16UC1 depth in millimetres works, and the node is still up
    t += 10 * SEC
    send(t, depth_enc="16UC1")
    ros.spin_until(lambda: len(arrays) == n_good + 1, 10.0, "observations of the 16UC1 frame")
    mug = [o for o in observations_from_msg(arrays[-1]) if o.class_name == "mug"]
    assert len(mug) == 1 and np.linalg.norm(mug[0].centroid_m - np.array([1.6, 0.0, 0.05])) < 0.03

    # images that overtake their /tf are held (not rejected) and processed once the transform arrives
    t += 10 * SEC
    frame = render(objects, K, map_T_cam, t, walls=walls)
    pubs["camera/color/image_raw"].publish(numpy_to_image(frame.rgb, "rgb8", "camera_optical", t))
    pubs["camera/depth/image_raw"].publish(numpy_to_image(frame.depth_m, "32FC1", "camera_optical", t))
    pubs["camera/instances/image_raw"].publish(numpy_to_image(frame.instance_mask, "32SC1", "camera_optical", t))
    pub_info.publish(intrinsics_to_camera_info(K, "camera_optical", t))
    for _ in range(4):      # 0.2 s of the node's 0.5 s tf wait: held, so neither acked nor rejected
        ros.spin_once(0.05)
    assert t not in acks
    pub_tf.publish(TFMessage(transforms=[make_transform_stamped(map_T_base, "odom", "base_link", t)]))
    ros.spin_until(lambda: t in acks, 10.0, "ack of the frame whose tf came late")
    ros.spin_until(lambda: time_to_ns(arrays[-1].header.stamp) == t, 10.0, "its observations")
    assert any(o.class_name == "mug" for o in observations_from_msg(arrays[-1]))

    os.killpg(proc.pid, signal.SIGINT)
    log = proc.communicate(timeout=15)[0]
    for cause in ("bad_step", "unsupported_encoding", "no_valid_depth", "missing_tf"):
        assert log.count(f"rejected frame ({cause})") == 1, (cause, log)
    # the map was saved on shutdown: a restart keeps the place (and room) ids
    from memory_nodes.perception.pipeline import Perception
    restarted = Perception()
    state = tmp_path / "state" / "perception_state.npz"
    assert state.is_file(), f"no perception state saved on shutdown (rc {proc.returncode}); node log:\n{log}"
    restarted.load_state(state.read_bytes())
    assert len(restarted.places.places) == 1 and np.count_nonzero(restarted.grid.free_hits) > 100
