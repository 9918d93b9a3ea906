"""``memory-stack replay`` and ``memory-stack record`` end to end (ROS_DOMAIN_ID 91-95).

A tiny bag written here with BagWriter (rgb8 + 16UC1 + camera_info + /tf + /tf_static, the importers'
layout) is replayed in lockstep through the real nodes with a tiny ONNX detector built here with
onnx.helper (one fixed "cup" box whatever the image): the store holds the frames' views, places and
observations; two lockstep runs leave identical stores (every table, rows sorted, and the keyframe files).
Bad input exits 2 with one line. ``record`` records a publisher of this test for a few seconds: counts,
types and the latched /tf_static, read with open_bag and with the independent ``mcap`` reader; its
metadata.yaml has rosbag2's version-8 keys. The real-data test (7-Scenes, skipped without the data or
the importer) imports frames, replays them, opens the store with the normal stack and asks where the mug is.
"""
from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import yaml

from tests.conftest import REPO_ROOT, ros_env, wait_until

PY = sys.executable
W, H = 160, 120
FX = FY = 120.0
CAM = "camera_color_optical_frame"
T0_NS = 1_700_000_000_000_000_000
DT_NS = 200_000_000                 # 5 Hz: views' min_interval_s is 0.5 s, so every few frames a keyframe
REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata" / "7scenes-redkitchen"


# ------------------------------------------------------------------------------------------ fixtures
def camera_pose(k: int) -> np.ndarray:
    """map_T_camera: the robot drives along x (0.4 m a frame) and turns a little; camera looks along +x."""
    yaw = 0.1 * k
    c, s = np.cos(yaw), np.sin(yaw)
    map_T_base = np.eye(4)
    map_T_base[:3, :3] = [[c, -s, 0], [s, c, 0], [0, 0, 1]]
    map_T_base[:3, 3] = [0.4 * k, 0.0, 0.0]
    base_T_cam = np.eye(4)
    base_T_cam[:3, :3] = [[0, 0, 1], [-1, 0, 0], [0, -1, 0]]      # optical: z forward, x right, y down
    base_T_cam[:3, 3] = [0.1, 0.0, 1.0]
    return map_T_base, base_T_cam


def write_bag(path: Path, n: int = 8, storage: str = "mcap", tf: bool = True, images: bool = True) -> Path:
    """A bag in the importers' layout: /tf_static once, then per frame /tf (map->base_link) and the images."""
    from rclpy.serialization import serialize_message
    from tf2_msgs.msg import TFMessage

    from memory_nodes.bags.rosbag2 import BagWriter
    from memory_nodes.common.types import CameraIntrinsics
    from memory_nodes.ros.conversions.basic import intrinsics_to_camera_info, make_transform_stamped, numpy_to_image

    K = CameraIntrinsics(W, H, FX, FY, W / 2, H / 2)
    rgb = np.full((H, W, 3), 120, np.uint8)
    rgb[40:80, 60:100] = (200, 40, 40)
    depth = np.full((H, W), 1500, np.uint16)                      # a wall 1.5 m ahead
    depth[40:80, 60:100] = 1200                                   # the "cup" in front of it
    with BagWriter(path, storage=storage) as w:
        if tf:
            w.add_topic("/tf", "tf2_msgs/msg/TFMessage")
            w.add_topic("/tf_static", "tf2_msgs/msg/TFMessage", latched=True)
        if images:
            w.add_topic("/camera/color/image_raw", "sensor_msgs/msg/Image")
            w.add_topic("/camera/depth/image_raw", "sensor_msgs/msg/Image")
        w.add_topic("/camera/color/camera_info", "sensor_msgs/msg/CameraInfo")
        _, base_T_cam = camera_pose(0)
        if tf:
            w.write("/tf_static", T0_NS - 1, serialize_message(TFMessage(transforms=[
                make_transform_stamped(base_T_cam, "base_link", CAM, T0_NS)])))
        for k in range(n):
            t = T0_NS + k * DT_NS
            map_T_base, _ = camera_pose(k)
            if tf:
                w.write("/tf", t, serialize_message(TFMessage(transforms=[
                    make_transform_stamped(map_T_base, "map", "base_link", t)])))
            if images:
                w.write("/camera/color/image_raw", t + 1, serialize_message(numpy_to_image(rgb, "rgb8", CAM, t)))
                w.write("/camera/depth/image_raw", t + 2, serialize_message(numpy_to_image(depth, "16UC1", CAM, t)))
            w.write("/camera/color/camera_info", t + 3, serialize_message(intrinsics_to_camera_info(K, CAM, t)))
    return path


def tiny_model(path: Path) -> Path:
    """boxes_scores layout: one box (the middle of a 64 x 48 input) scored 0.9 as "cup", whatever the image
    (the image enters only through a zero-weighted mean, so the graph has a real input)."""
    import onnx
    from onnx import TensorProto, helper

    box = np.array([[[24.0, 16.0, 40.0, 32.0]]], np.float32)      # (1, 1, 4) xyxy input px
    score = np.array([[[0.9, 0.0]]], np.float32)                  # (1, 1, 2): cup, dining table
    nodes = [
        helper.make_node("Constant", [], ["box_c"], value=helper.make_tensor("b", TensorProto.FLOAT, box.shape,
                                                                             box.flatten())),
        helper.make_node("Constant", [], ["score_c"], value=helper.make_tensor("s", TensorProto.FLOAT, score.shape,
                                                                               score.flatten())),
        helper.make_node("Constant", [], ["zero"], value=helper.make_tensor("z", TensorProto.FLOAT, [], [0.0])),
        helper.make_node("ReduceMean", ["image"], ["m"], keepdims=0),
        helper.make_node("Mul", ["m", "zero"], ["m0"]),
        helper.make_node("Add", ["box_c", "m0"], ["boxes"]),
        helper.make_node("Add", ["score_c", "m0"], ["scores"]),
    ]
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 48, 64])
    graph = helper.make_graph(nodes, "tiny", [image],
                              [helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, 1, 4]),
                               helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 1, 2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def tiny_params(tmp: Path) -> Path:
    model = tiny_model(tmp / "tiny.onnx")
    p = tmp / "site.yaml"
    p.write_text(yaml.safe_dump({"/**/perception": {"ros__parameters": {"onnx": {
        "model_path": str(model), "class_names": ["cup", "dining table"], "input_width": 64, "input_height": 48,
        "providers": ["CPUExecutionProvider"], "output_layout": "boxes_scores", "resize": "stretch",
        "score_threshold": 0.4}}}}))
    return p


def replay(bag: Path, data: Path, domain: int, *extra: str, timeout: float = 90.0) -> subprocess.CompletedProcess:
    cmd = [PY, "-m", "memory_nodes.cli", "replay", str(bag), "--data-dir", str(data), "--no-progress", *extra]
    return subprocess.run(cmd, env=ros_env(domain), cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)


# wall-clock write times in the store: none today (schema.py stores input stamps only); a column named here
# would be left out of the comparison
WALL_CLOCK_COLUMNS: Dict[str, List[str]] = {}


def dump_store(db: Path) -> Dict[str, list]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    out = {}
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for t in sorted(tables):
            cols = [r[1] for r in con.execute(f"PRAGMA table_info({t})")]
            keep = [c for c in cols if c not in WALL_CLOCK_COLUMNS.get(t, [])]
            rows = con.execute(f"SELECT {', '.join(keep)} FROM {t}").fetchall()
            out[t] = sorted(rows, key=repr)
    finally:
        con.close()
    return out


def keyframe_files(data: Path) -> Dict[str, bytes]:
    return {str(p.relative_to(data)): p.read_bytes() for p in sorted(data.rglob("*.keyframes/**/*")) if p.is_file()}


# ------------------------------------------------------------------------------------------ replay
def test_replay_lockstep_stores_frames_and_is_deterministic(tmp_path):
    params = tiny_params(tmp_path)
    bag = write_bag(tmp_path / "bag", n=8)
    stores = []
    for run, domain in ((1, 91), (2, 92)):
        data = tmp_path / f"data{run}"
        t0 = time.monotonic()
        r = replay(bag, data, domain, "--lockstep", "--params-file", str(params))
        wall = time.monotonic() - t0
        assert r.returncode == 0, r.stdout + r.stderr + (data / "replay_logs" / "stack.log").read_text()[-3000:]
        assert "8 frames played" in r.stdout and "8 accepted" in r.stdout, r.stdout
        assert "memory-stack ask" in r.stdout and f"data_dir:={data.resolve()}" in r.stdout
        db = data / "memory.db"
        d = dump_store(db)
        assert len(d["views"]) >= 2 and len(d["places"]) >= 2, {k: len(v) for k, v in d.items()}
        assert len(d["observations"]) == 8, r.stdout
        assert (data / "replay_logs" / "stack.log").stat().st_size > 0
        print(f"run {run}: {wall:.1f} s wall; {r.stdout.strip().splitlines()[0]}")
        stores.append((d, keyframe_files(data)))
    (a, ka), (b, kb) = stores
    for table in a:
        assert a[table] == b[table], f"table {table} differs between two lockstep runs"
    assert ka == kb and ka, "keyframe files differ"


def test_replay_bad_input_exits_2(tmp_path):
    r = replay(tmp_path, tmp_path / "d", 93)                               # not a bag
    assert r.returncode == 2 and r.stderr.strip().startswith("memory-stack replay:"), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = replay(write_bag(tmp_path / "noimg", n=2, images=False), tmp_path / "d", 93)
    assert r.returncode == 2 and "image topic" in r.stderr, r.stderr
    r = replay(write_bag(tmp_path / "notf", n=2, tf=False), tmp_path / "d", 93)
    assert r.returncode == 2 and "no tf from map to the camera frame" in r.stderr, r.stderr


# ------------------------------------------------------------------------------------------ record
ROSBAG2_V8_KEYS = {"version", "storage_identifier", "duration", "starting_time", "message_count",
                   "topics_with_message_count", "compression_format", "compression_mode", "relative_file_paths",
                   "files", "custom_data", "ros_distro"}


def test_record_camera_tf_and_latched_tf_static(tmp_path, ros_context_factory):
    from sensor_msgs.msg import Image
    from tf2_msgs.msg import TFMessage

    from memory_nodes.bags.rosbag2 import open_bag
    from memory_nodes.ros.conversions.basic import make_transform_stamped, numpy_to_image
    from memory_nodes.ros.qos import RELIABLE_SENSOR, TF, TF_STATIC

    ctx = ros_context_factory(94, "record_test_publisher")
    pub_img = ctx.node.create_publisher(Image, "camera/color/image_raw", RELIABLE_SENSOR)
    pub_tf = ctx.node.create_publisher(TFMessage, "/tf", TF)
    pub_static = ctx.node.create_publisher(TFMessage, "/tf_static", TF_STATIC)
    _, base_T_cam = camera_pose(0)
    pub_static.publish(TFMessage(transforms=[make_transform_stamped(base_T_cam, "base_link", CAM, T0_NS)]))  # before
    out = tmp_path / "rec"
    p = subprocess.Popen([PY, "-m", "memory_nodes.cli", "record", "--out", str(out), "--topics",
                          "camera/color/image_raw", "/tf", "/tf_static", "--duration", "60"],
                         env=ros_env(94), cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        ctx.spin_until(lambda: min(x.get_subscription_count() for x in (pub_img, pub_tf, pub_static)) >= 1, 30.0,
                       "the recorder's subscriptions")
        n = 6
        rgb = np.zeros((H, W, 3), np.uint8)
        for k in range(n):
            t = T0_NS + k * DT_NS
            map_T_base, _ = camera_pose(k)
            pub_tf.publish(TFMessage(transforms=[make_transform_stamped(map_T_base, "map", "base_link", t)]))
            pub_img.publish(numpy_to_image(rgb, "rgb8", CAM, t))
            ctx.spin_once(0.02)
        for _ in range(20):        # reliable delivery of what was published: then stop the recorder (Ctrl-C)
            ctx.spin_once(0.02)
        p.send_signal(signal.SIGINT)
        text, _ = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, text
    assert "stopped by SIGINT" in text
    meta = yaml.safe_load((out / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert ROSBAG2_V8_KEYS <= set(meta) and meta["version"] == 8 and meta["storage_identifier"] == "mcap", meta
    with open_bag(out) as bag:
        t = bag.topics
        assert t["/camera/color/image_raw"].msgtype == "sensor_msgs/msg/Image"
        assert {k: v.count for k, v in t.items()} == {"/camera/color/image_raw": n, "/tf": n, "/tf_static": 1}
        assert t["/tf_static"].latched and not t["/tf"].latched
        img = bag.decode(next(bag.messages(["/camera/color/image_raw"])))
        assert (img.width, img.height, img.encoding, img.header.frame_id) == (W, H, "rgb8", CAM)
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory
    seen: Dict[str, int] = {}
    for f in out.glob("*.mcap"):
        with f.open("rb") as fh:
            reader = make_reader(fh, decoder_factories=[DecoderFactory()])
            for schema, channel, _msg, decoded in reader.iter_decoded_messages():
                seen[channel.topic] = seen.get(channel.topic, 0) + 1
                if channel.topic == "/tf_static":
                    assert decoded.transforms[0].child_frame_id == CAM
                    qos = yaml.safe_load(channel.metadata["offered_qos_profiles"])[0]
                    assert qos["durability"] in (1, "transient_local"), qos      # rmw's enum: 1 = transient local
                assert schema.encoding == "ros2msg" and schema.data
    assert seen == {"/camera/color/image_raw": n, "/tf": n, "/tf_static": 1}


# ------------------------------------------------------------------------------------------ real data
def _tables(db: Path) -> List[dict]:
    """Confirmed table / dining_table objects: centre and merged extent (m) from the store."""
    import json
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT c.name, t.status, t.data FROM tracks t "
                           "JOIN classes c ON c.id = t.class_id").fetchall()
    finally:
        con.close()
    out = []
    for name, status, data in rows:
        d = json.loads(data)
        if name.replace(" ", "_") in ("table", "dining_table") and status not in ("tentative", "rejected"):
            out.append({"class": name, "pos": d["pos"], "emin": d.get("emin") or d["bmin"],
                        "emax": d.get("emax") or d["bmax"]})
    return out


def test_realdata_import_replay_then_ask_where_the_mug_is(tmp_path, default_model):
    if not REALDATA.is_dir():
        pytest.skip(f"no 7-Scenes frames at {REALDATA}")
    from memory_nodes.ros.ask_client import AskClient
    from memory_nodes.ros.bag_player import LAUNCH_FILE
    from memory_nodes.ros.launcher import Stack

    t0 = time.monotonic()
    bag, data = tmp_path / "bag", tmp_path / "data"
    r = subprocess.run([PY, "-m", "memory_nodes.cli", "import", "7scenes", str(REALDATA), "--out", str(bag),
                        "--stride", "2", "--max-frames", "300"], cwd=REPO_ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    r = replay(bag, data, 95, "--lockstep", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "300 frames played" in r.stdout, r.stdout
    t_replay = time.monotonic() - t0
    tables = _tables(data / "memory.db")
    assert tables, "no table in the store"
    stack = Stack.from_file(LAUNCH_FILE, {"with_sim": "false", "data_dir": str(data)}, env=ros_env(95),
                            out=(tmp_path / "stack.log").open("w"))
    import rclpy
    ctx = rclpy.context.Context()
    rclpy.init(context=ctx, domain_id=95)
    client = None
    try:
        stack.start()
        client = AskClient(context=ctx, node_name="realdata_ask_test")
        assert client.wait_ready(60.0), (tmp_path / "stack.log").read_text()[-3000:]
        wait_until(lambda: client.ask("where is the mug?", timeout_s=10.0).has_position, 30.0,
                   what="an answer with a position")
        o = client.ask("where is the mug?", timeout_s=10.0)
    finally:
        if client is not None:
            client.close()
        rclpy.try_shutdown(context=ctx)
        stack.stop()
    x, y, z = o.position
    on = [t for t in tables if t["emin"][0] - 0.1 <= x <= t["emax"][0] + 0.1
          and t["emin"][1] - 0.1 <= y <= t["emax"][1] + 0.1 and -0.05 <= z - t["pos"][2] <= 0.35]
    assert on, f"the mug at {o.position} is on no table: {tables}; answer: {o.answer}"
    assert "on the dining table" in o.answer, o.answer     # the words say it too (receptacle over Recall)
    print(f"real data: import + replay {t_replay:.1f} s, all {time.monotonic() - t0:.1f} s; {o.answer}")


def test_replay_at_a_rate_drops_nothing_it_need_not(tmp_path):
    bag = write_bag(tmp_path / "bag", n=8, storage="sqlite3")
    data = tmp_path / "data"
    r = replay(bag, data, 93, "--rate", "2", "--params-file", str(tiny_params(tmp_path)))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "8 frames played" in r.stdout and "dropped (perception busy)" in r.stdout, r.stdout
    accepted = int(r.stdout.split("perception: ")[1].split(" accepted")[0])
    assert 1 <= accepted <= 8
    assert len(dump_store(data / "memory.db")["observations"]) == accepted
