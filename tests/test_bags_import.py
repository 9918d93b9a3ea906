"""memory-stack import: tiny synthetic 7-Scenes and TUM folders (written here with cv2) become bags whose
messages are checked against what was put in (topics, counts, stamps, encodings, TUM's mm conversion,
intrinsics, the tf chain after gravity alignment, association and interpolation), read back with
open_bag and independently with the mcap package; bad input gives one clear line. One test runs over the
real 7-Scenes frames when ../shared/realdata/7scenes-redkitchen is there."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, List, Tuple

import cv2
import numpy as np
import pytest
import yaml

from memory_nodes.bags.importers import (
    BAD_COLOR,
    BAD_POSE,
    NO_DEPTH,
    OUTSIDE_GT,
    DatasetError,
    interpolate_pose,
    main,
    scan_7scenes,
    write_bag,
)
from memory_nodes.bags.rosbag2 import open_bag
from memory_nodes.common.geometry import quat_to_R

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata" / "7scenes-redkitchen"
W, H = 64, 48
FX, FY, CX, CY = 50.0, 52.0, 31.5, 23.5
FLOOR_Y = 1.2                     # world y of the floor in the synthetic 7-Scenes world (y down)
START_S = 1_700_000_000
TOPICS = {"/camera/color/image_raw", "/camera/depth/image_raw", "/camera/color/camera_info", "/tf", "/odom"}


# ------------------------------------------------------------------------------------------------ helpers
def _Ry(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _Rx(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _floor_depth_mm(world_T_camera: np.ndarray, floor_y: float) -> np.ndarray:
    """Depth (mm) of the plane world y = floor_y (y down) seen by a pinhole camera; 0 where it is not."""
    v, u = np.mgrid[0:H, 0:W].astype(float)
    rays = np.stack([(u - CX) / FX, (v - CY) / FY, np.ones_like(u)], axis=-1)   # z = 1: depth = t
    dy = rays @ world_T_camera[1, :3]
    t = np.where(dy > 1e-6, (floor_y - world_T_camera[1, 3]) / np.where(dy > 1e-6, dy, 1.0), 0.0)
    t[(t <= 0) | (t > 20)] = 0
    return np.round(t * 1000).astype(np.uint16)


def _7scenes_pose(i: int) -> np.ndarray:
    """Camera at 1.0-1.1 m above the floor (world y down), turning and pitched 20 deg down."""
    T = np.eye(4)
    T[:3, :3] = _Ry(0.3 * i) @ _Rx(-0.35)
    T[:3, 3] = [0.1 * i, FLOOR_Y - 1.0 - 0.02 * i, 0.05 * i]
    return T


def make_7scenes(root: Path, n: int = 6, gravity: bool = True) -> List[np.ndarray]:
    root.mkdir(parents=True)
    np.savetxt(root / "camera-intrinsics.txt", np.array([[FX, 0, CX], [0, FY, CY], [0, 0, 1]]))
    if gravity:
        np.savetxt(root / "gravity-direction.txt", np.array([0.0, 2.0, 0.0]))   # world +y (any length)
    poses = []
    for i in range(n):
        T = _7scenes_pose(i)
        poses.append(T)
        np.savetxt(root / f"frame-{i:06d}.pose.txt", T)
        rgb = np.zeros((H, W, 3), np.uint8)
        rgb[:, :, 0], rgb[:, :, 1], rgb[:, :, 2] = 200, 10 * i, 50                   # R G B
        cv2.imwrite(str(root / f"frame-{i:06d}.color.png"), rgb[:, :, ::-1])
        cv2.imwrite(str(root / f"frame-{i:06d}.depth.png"), _floor_depth_mm(T, FLOOR_Y))
    return poses


def read_bag(path: Path) -> Dict[str, List[Tuple[int, Any]]]:
    out: Dict[str, List[Tuple[int, Any]]] = {}
    with open_bag(path) as b:
        for m in b.messages():
            out.setdefault(m.topic, []).append((m.log_time_ns, b.decode(m)))
    return out


def stamp(msg) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def tf_T(tr) -> np.ndarray:
    q, t = tr.transform.rotation, tr.transform.translation
    T = np.eye(4)
    T[:3, :3] = quat_to_R(q.x, q.y, q.z, q.w)
    T[:3, 3] = [t.x, t.y, t.z]
    return T


def run_cli(capsys, *argv: str) -> Tuple[int, str, str]:
    rc = main(list(argv))
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


# ------------------------------------------------------------------------------------------------ 7-Scenes
@pytest.fixture
def scenes(tmp_path) -> Tuple[Path, List[np.ndarray]]:
    root = tmp_path / "seq"
    return root, make_7scenes(root)


def test_7scenes_bag_messages_and_tf_chain(scenes, tmp_path, capsys):
    root, poses = scenes
    out = tmp_path / "bag"
    rc, text, err = run_cli(capsys, "7scenes", str(root), "--out", str(out), "--floor-z", str(-FLOOR_Y),
                            "--start-time", str(START_S))
    assert rc == 0, err
    assert "gravity-direction.txt" in text and "wrote 6 frames" in text and "(camera-intrinsics.txt)" in text
    msgs = read_bag(out)
    assert set(msgs) == TOPICS and all(len(v) == 6 for v in msgs.values())
    period = int(round(1e9 / 30))
    expect = [START_S * 10**9 + i * period for i in range(6)]
    for topic in ("/camera/color/image_raw", "/camera/depth/image_raw", "/camera/color/camera_info", "/odom"):
        assert [log for log, _ in msgs[topic]] == expect                     # log time = header stamp
        assert [stamp(m) for _, m in msgs[topic]] == expect
    assert [log for log, _ in msgs["/tf"]] == [s - 1_000_000 for s in expect]   # tf slightly before
    for _, m in msgs["/camera/color/image_raw"] + msgs["/camera/depth/image_raw"] + msgs["/camera/color/camera_info"]:
        assert m.header.frame_id == "camera_color_optical_frame"
    i, color = 3, msgs["/camera/color/image_raw"][3][1]
    assert (color.encoding, color.height, color.width, color.step) == ("rgb8", H, W, 3 * W)
    assert color.data.reshape(H, W, 3)[5, 7].tolist() == [200, 10 * i, 50]
    depth = msgs["/camera/depth/image_raw"][3][1]
    assert (depth.encoding, depth.step, depth.is_bigendian) == ("16UC1", 2 * W, 0)
    assert np.array_equal(depth.data.view("<u2").reshape(H, W), _floor_depth_mm(poses[3], FLOOR_Y))
    info = msgs["/camera/color/camera_info"][0][1]
    assert (info.width, info.height, info.distortion_model) == (W, H, "plumb_bob")
    assert np.allclose(info.k, [FX, 0, CX, 0, FY, CY, 0, 0, 1]) and not np.any(info.d)
    assert np.allclose(info.p, [FX, 0, CX, 0, 0, FY, CY, 0, 0, 0, 1, 0])
    # gravity world +y -> map z = world -y; map x = world x; the floor (world y = 1.2) at map z = 0
    map_T_world = np.eye(4)
    map_T_world[:3, :3] = [[1, 0, 0], [0, 0, 1], [0, -1, 0]]
    map_T_world[2, 3] = FLOOR_Y
    for k, (_, tf) in enumerate(msgs["/tf"]):
        a, b = tf.transforms
        assert (a.header.frame_id, a.child_frame_id) == ("map", "base_link")
        assert (b.header.frame_id, b.child_frame_id) == ("base_link", "camera_color_optical_frame")
        assert stamp(a) == stamp(b) == expect[k]
        map_T_base, base_T_cam = tf_T(a), tf_T(b)
        assert np.allclose(map_T_base @ base_T_cam, map_T_world @ poses[k], atol=1e-6)
        assert abs(map_T_base[2, 3]) < 1e-9 and np.allclose(map_T_base[:3, 2], [0, 0, 1])
        assert base_T_cam[2, 3] == pytest.approx(1.0 + 0.02 * k)              # camera height above the floor
        fwd = (map_T_world @ poses[k])[:3, 2]                                # base x = the levelled view
        assert np.allclose(map_T_base[:2, 0], fwd[:2] / np.linalg.norm(fwd[:2]))
        odom = msgs["/odom"][k][1]
        p = odom.pose.pose.position
        assert (odom.header.frame_id, odom.child_frame_id) == ("map", "base_link")
        assert np.allclose([p.x, p.y, p.z], map_T_base[:3, 3])
    v = msgs["/odom"][2][1].twist.twist.linear                              # 0.1 m/frame in x, 0.05 in z (world)
    assert math.hypot(v.x, v.y) == pytest.approx(math.hypot(0.1, 0.05) * 30, rel=1e-3)


def test_7scenes_floor_auto_finds_the_floor(scenes, tmp_path, capsys):
    root, poses = scenes
    rc, text, err = run_cli(capsys, "7scenes", str(root), "--out", str(tmp_path / "bag"))
    assert rc == 0, err
    assert "(auto, 6 depth frames)" in text
    tf = read_bag(tmp_path / "bag")["/tf"]
    for k, (_, m) in enumerate(tf):
        # the floor bin's centre: within a bin (2 cm) of the true floor
        assert tf_T(m.transforms[1])[2, 3] == pytest.approx(1.0 + 0.02 * k, abs=0.021)


def test_7scenes_default_gravity_is_world_minus_z(tmp_path, capsys):
    root = tmp_path / "seq"
    poses = make_7scenes(root, n=2, gravity=False)
    rc, text, _ = run_cli(capsys, "7scenes", str(root), "--out", str(tmp_path / "bag"), "--floor-z", "0.5")
    assert rc == 0 and "world -z" in text
    a, b = read_bag(tmp_path / "bag")["/tf"][1][1].transforms
    expect = poses[1].copy()
    expect[2, 3] -= 0.5
    assert np.allclose(tf_T(a) @ tf_T(b), expect, atol=1e-6)


def test_7scenes_gravity_flag_overrides_the_file(scenes, tmp_path, capsys):
    root, poses = scenes
    rc, text, _ = run_cli(capsys, "7scenes", str(root), "--out", str(tmp_path / "bag"), "--gravity", "0,0,-1",
                          "--floor-z", "0", "--max-frames", "1")
    assert rc == 0 and "(--gravity)" in text
    a, b = read_bag(tmp_path / "bag")["/tf"][0][1].transforms
    assert np.allclose(tf_T(a) @ tf_T(b), poses[0], atol=1e-6)


def test_max_frames_and_stride(scenes, tmp_path, capsys):
    root, _ = scenes
    rc, _, _ = run_cli(capsys, "7scenes", str(root), "--out", str(tmp_path / "bag"), "--stride", "2",
                       "--max-frames", "2", "--floor-z", "-1.2", "--start-time", "2023-11-14T22:13:20Z",
                       "--fps", "10")
    assert rc == 0
    msgs = read_bag(tmp_path / "bag")
    assert all(len(v) == 2 for v in msgs.values())
    assert [stamp(m) for _, m in msgs["/camera/color/image_raw"]] == [START_S * 10**9, START_S * 10**9 + 200_000_000]
    assert msgs["/camera/color/image_raw"][1][1].data.reshape(H, W, 3)[0, 0, 1] == 20   # frame 2


def test_bad_frames_are_skipped_and_counted(scenes, tmp_path, capsys):
    root, _ = scenes
    (root / "frame-000001.pose.txt").write_text("nan " * 16)
    (root / "frame-000004.color.png").write_bytes(b"not an image")
    rc, text, err = run_cli(capsys, "7scenes", str(root), "--out", str(tmp_path / "bag"), "--floor-z", "-1.2")
    assert rc == 0, err
    assert "wrote 4 frames" in text
    assert f"skipped 1: {BAD_POSE}" in text and f"skipped 1: {BAD_COLOR}" in text
    assert len(read_bag(tmp_path / "bag")["/tf"]) == 4


def test_metadata_yaml_is_rosbag2_v8(scenes, tmp_path, capsys):
    root, _ = scenes
    assert run_cli(capsys, "7scenes", str(root), "--out", str(tmp_path / "bag"), "--floor-z", "-1.2",
                   "--start-time", str(START_S))[0] == 0
    info = yaml.safe_load((tmp_path / "bag" / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["version"] == 8 and info["storage_identifier"] == "mcap"
    assert info["relative_file_paths"] == ["bag.mcap"] and (tmp_path / "bag" / "bag.mcap").is_file()
    assert info["message_count"] == 30 and info["files"][0]["path"] == "bag.mcap"
    assert info["files"][0]["message_count"] == 30
    assert info["starting_time"]["nanoseconds_since_epoch"] == START_S * 10**9 - 1_000_000
    assert info["duration"]["nanoseconds"] == 5 * int(round(1e9 / 30)) + 1_000_000
    topics = {t["topic_metadata"]["name"]: t for t in info["topics_with_message_count"]}
    assert set(topics) == TOPICS
    for t in topics.values():
        md = t["topic_metadata"]
        assert t["message_count"] == 6 and md["serialization_format"] == "cdr"
        assert md["type_description_hash"].startswith("RIHS01_") and "offered_qos_profiles" in md
    assert topics["/tf"]["topic_metadata"]["type"] == "tf2_msgs/msg/TFMessage"
    assert topics["/camera/depth/image_raw"]["topic_metadata"]["type"] == "sensor_msgs/msg/Image"


def test_mcap_reads_it_without_rosbags(scenes, tmp_path, capsys):
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory
    root, _ = scenes
    assert run_cli(capsys, "7scenes", str(root), "--out", str(tmp_path / "bag"), "--floor-z", "-1.2")[0] == 0
    seen: Dict[str, List[Any]] = {}
    with open(tmp_path / "bag" / "bag.mcap", "rb") as f:
        for schema, channel, message, decoded in make_reader(f, decoder_factories=[DecoderFactory()]
                                                             ).iter_decoded_messages():
            assert schema.encoding == "ros2msg" and channel.message_encoding == "cdr"
            seen.setdefault(channel.topic, []).append((message.log_time, decoded))
    assert set(seen) == TOPICS and sum(len(v) for v in seen.values()) == 30
    _, depth = seen["/camera/depth/image_raw"][0]
    assert depth.encoding == "16UC1" and depth.width == W and len(depth.data) == 2 * W * H
    _, tf = seen["/tf"][0]
    assert [t.child_frame_id for t in tf.transforms] == ["base_link", "camera_color_optical_frame"]


def test_storage_sqlite3(scenes, tmp_path, capsys):
    root, _ = scenes
    assert run_cli(capsys, "7scenes", str(root), "--out", str(tmp_path / "bag"), "--floor-z", "-1.2",
                   "--storage", "sqlite3", "--max-frames", "2")[0] == 0
    assert list((tmp_path / "bag").glob("*.db3"))
    assert len(read_bag(tmp_path / "bag")["/camera/depth/image_raw"]) == 2


@pytest.mark.parametrize("breakage, says", [
    ("no folder", "no such folder"),
    ("depth missing", "frame-000002.depth.png is missing"),
    ("no intrinsics", "camera-intrinsics.txt: missing"),
    ("all poses bad", "no usable frame (6 bad pose"),
    ("out exists", "exists"),
])
def test_7scenes_bad_input_is_one_line(tmp_path, capsys, breakage, says):
    root = tmp_path / "seq"
    out = tmp_path / "bag"
    if breakage != "no folder":
        make_7scenes(root)
    if breakage == "depth missing":
        (root / "frame-000002.depth.png").unlink()
    elif breakage == "no intrinsics":
        (root / "camera-intrinsics.txt").unlink()
    elif breakage == "all poses bad":
        for p in root.glob("*.pose.txt"):
            p.write_text("1 2 3")
    elif breakage == "out exists":
        out.mkdir()
    rc, text, err = run_cli(capsys, "7scenes", str(root), "--out", str(out), "--floor-z", "0")
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("memory-stack import: ") and says in lines[0], err
    assert "Traceback" not in err
    if breakage != "out exists":
        assert not out.exists()                    # no half bag left behind


def test_help_lists_both_layouts(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    assert "tum" in text and "7scenes" in text
    with pytest.raises(SystemExit):
        main(["7scenes", "--help"])
    assert "rounded to the second" in capsys.readouterr().out


# ----------------------------------------------------------------------------------------------- TUM RGB-D
GT_T0, GT_T1 = 100.0, 100.2


def _tum_gt(t: float) -> Tuple[np.ndarray, float]:
    """Position and yaw (about world z) at t: linear in t, so lerp/slerp are exact."""
    a = (t - GT_T0) / (GT_T1 - GT_T0)
    return np.array([1.0 + 0.5 * a, 2.0, 1.4]), 0.4 * a


def make_tum(root: Path) -> List[float]:
    """rgb at 100.01 + k/30 (k < 5) and 99.99 (before the groundtruth); depth 5 ms after each rgb except
    k = 2 (none within 20 ms); groundtruth every 10 ms from 100.0 to 100.2. Returns the rgb stamps."""
    (root / "rgb").mkdir(parents=True)
    (root / "depth").mkdir()
    rgb_t = [99.99] + [100.01 + k / 30 for k in range(5)]
    rgb_lines, depth_lines = ["# color images", "# timestamp filename"], ["# depth maps"]
    raw = np.full((H, W), 7500, np.uint16)                    # 1.5 m
    raw[0, 0], raw[0, 1], raw[0, 2] = 0, 1, 3
    for k, t in enumerate(rgb_t):
        rgb = np.full((H, W, 3), (k * 40, 0, 0), np.uint8)
        cv2.imwrite(str(root / "rgb" / f"{t:.6f}.png"), rgb[:, :, ::-1])
        rgb_lines.append(f"{t:.6f} rgb/{t:.6f}.png")
        if k == 3:                                            # rgb_t[3]: the third in-span frame
            continue
        cv2.imwrite(str(root / "depth" / f"{t + 0.005:.6f}.png"), raw)
        depth_lines.append(f"{t + 0.005:.6f} depth/{t + 0.005:.6f}.png")
    gt = ["# timestamp tx ty tz qx qy qz qw"]
    for j in range(21):
        t = GT_T0 + j * 0.01
        p, yaw = _tum_gt(t)
        # camera optical frame levelled and turned by yaw: optical z forward = world x rotated by yaw
        R = np.array([[math.cos(yaw), -math.sin(yaw), 0], [math.sin(yaw), math.cos(yaw), 0], [0, 0, 1]]) @ \
            np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
        from memory_nodes.common.geometry import R_to_quat
        q = R_to_quat(R)
        gt.append(f"{t:.4f} {p[0]:.9f} {p[1]:.9f} {p[2]:.9f} {q[0]:.12f} {q[1]:.12f} {q[2]:.12f} {q[3]:.12f}")
    (root / "rgb.txt").write_text("\n".join(rgb_lines) + "\n")
    (root / "depth.txt").write_text("\n".join(depth_lines) + "\n")
    (root / "groundtruth.txt").write_text("\n".join(gt) + "\n")
    return rgb_t


def test_tum_association_interpolation_and_mm(tmp_path, capsys):
    root = tmp_path / "rgbd_dataset_freiburg2_desk"
    rgb_t = make_tum(root)
    out = tmp_path / "bag"
    rc, text, err = run_cli(capsys, "tum", str(root), "--out", str(out), "--floor-z", "0")
    assert rc == 0, err
    assert "TUM freiburg2" in text and "world -z" in text
    assert f"skipped 1: {NO_DEPTH}" in text and f"skipped 1: {OUTSIDE_GT}" in text
    msgs = read_bag(out)
    kept = [1, 2, 4, 5]                                       # 0: before the groundtruth, 3: no depth
    want_ns = [int(round(rgb_t[k] * 1e6)) * 1000 for k in kept]
    assert [stamp(m) for _, m in msgs["/camera/color/image_raw"]] == want_ns
    assert [m.data.reshape(H, W, 3)[9, 9, 0] for _, m in msgs["/camera/color/image_raw"]] == [40 * k for k in kept]
    d = msgs["/camera/depth/image_raw"][0][1]
    assert stamp(d) == want_ns[0] and d.encoding == "16UC1"
    mm = d.data.view("<u2").reshape(H, W)
    assert mm[5, 5] == 1500 and mm[0, :3].tolist() == [0, 0, 1]          # 7500 / 5; 0 stays 0; rounded
    info = msgs["/camera/color/camera_info"][0][1]
    assert np.allclose(info.k, [520.9, 0, 325.1, 0, 521.0, 249.7, 0, 0, 1])
    for k, (_, tf) in zip(kept, msgs["/tf"]):
        a, b = tf.transforms
        map_T_cam = tf_T(a) @ tf_T(b)
        p, yaw = _tum_gt(rgb_t[k])
        assert np.allclose(map_T_cam[:3, 3], p, atol=1e-6)            # world z up: map = world (floor 0)
        assert math.atan2(map_T_cam[1, 2], map_T_cam[0, 2]) == pytest.approx(yaw, abs=1e-6)
        assert tf_T(b)[2, 3] == pytest.approx(1.4)


def test_tum_start_time_and_intrinsics_flag(tmp_path, capsys):
    root = tmp_path / "somewhere"
    rgb_t = make_tum(root)
    rc, text, _ = run_cli(capsys, "tum", str(root), "--out", str(tmp_path / "bag"), "--floor-z", "0",
                          "--start-time", "1000", "--intrinsics", "600,601,30,20", "--max-dt", "0.1")
    assert rc == 0 and "(--intrinsics)" in text
    msgs = read_bag(tmp_path / "bag")
    # shifted so the first rgb line (99.99) is at 1000 s; with --max-dt 0.1 frame 3 finds a depth image
    got = [stamp(m) for _, m in msgs["/camera/color/image_raw"]]
    assert got == [1000 * 10**9 + int(round((rgb_t[k] - 99.99) * 1e6)) * 1000 for k in (1, 2, 3, 4, 5)]
    assert np.allclose(msgs["/camera/color/camera_info"][0][1].k[[0, 4, 2, 5]], [600, 601, 30, 20])


def test_tum_default_intrinsics_are_ros_defaults(tmp_path, capsys):
    root = tmp_path / "plain"
    make_tum(root)
    rc, text, _ = run_cli(capsys, "tum", str(root), "--out", str(tmp_path / "bag"), "--floor-z", "0")
    assert rc == 0 and "ROS default" in text
    assert np.allclose(read_bag(tmp_path / "bag")["/camera/color/camera_info"][0][1].k[[0, 4, 2, 5]],
                       [525, 525, 319.5, 239.5])


@pytest.mark.parametrize("breakage, says", [
    ("no groundtruth", "groundtruth.txt: missing"),
    ("bad line", "groundtruth.txt:3: expected 'timestamp tx ty tz qx qy qz qw'"),
    ("nan pose", "no usable frame"),
])
def test_tum_bad_input(tmp_path, capsys, breakage, says):
    root = tmp_path / "tum"
    make_tum(root)
    gt = root / "groundtruth.txt"
    if breakage == "no groundtruth":
        gt.unlink()
    elif breakage == "bad line":
        lines = gt.read_text().splitlines()
        lines[2] = "100.01 1 2 3"
        gt.write_text("\n".join(lines))
    else:
        gt.write_text("\n".join(line if line.startswith("#") else " ".join(line.split()[:1] + ["nan"] * 7)
                                for line in gt.read_text().splitlines()))
    rc, _, err = run_cli(capsys, "tum", str(root), "--out", str(tmp_path / "bag"), "--floor-z", "0")
    assert rc == 2 and err.count("\n") == 1 and err.startswith("memory-stack import: ") and says in err, err
    if breakage == "nan pose":
        assert BAD_POSE in err


def test_interpolate_pose_slerps():
    t = np.array([0.0, 1.0])
    p = np.array([[0.0, 0, 0], [2.0, 0, 0]])
    q = np.array([[0.0, 0, 0, 1], [0.0, 0, math.sin(0.5), math.cos(0.5)]])   # 0 -> 1 rad about z
    T = interpolate_pose(t, p, q, 0.25)
    assert np.allclose(T[:3, 3], [0.5, 0, 0])
    assert math.atan2(T[1, 0], T[0, 0]) == pytest.approx(0.25)


def test_write_bag_api_without_the_cli(scenes, tmp_path):
    root, _ = scenes
    ds = scan_7scenes(root, fps=15.0, start_ns=0)
    lines: List[str] = []
    s = write_bag(ds, tmp_path / "bag", floor_z=-FLOOR_Y, max_frames=3, log=lines.append)
    assert s.frames_written == 3 and s.topics == {t: 3 for t in TOPICS} and s.end_ns == 2 * int(round(1e9 / 15))
    assert any(line.startswith("floor: -1.200 m") for line in lines)
    with pytest.raises(DatasetError, match="--max-frames"):
        write_bag(ds, tmp_path / "bag2", floor_z=0.0, max_frames=0)


# --------------------------------------------------------------------------------------- the real frames
@pytest.mark.skipif(not REALDATA.is_dir(), reason=f"no real 7-Scenes frames at {REALDATA}")
def test_real_7scenes_floor_at_zero_and_z_up(tmp_path, capsys):
    out = tmp_path / "bag"
    rc, text, err = run_cli(capsys, "7scenes", str(REALDATA), "--out", str(out), "--max-frames", "30",
                            "--stride", "5")
    assert rc == 0, err
    msgs = read_bag(out)
    assert all(len(msgs[t]) == 30 for t in TOPICS)
    info = msgs["/camera/color/camera_info"][0][1]
    fx, fy, cx, cy = info.k[0], info.k[4], info.k[2], info.k[5]
    assert (fx, fy, cx, cy, info.width, info.height) == (585, 585, 320, 240, 640, 480)
    heights, zs, downs = [], [], []
    for (_, tf), (_, depth) in zip(msgs["/tf"], msgs["/camera/depth/image_raw"]):
        a, b = tf.transforms
        map_T_cam = tf_T(a) @ tf_T(b)
        heights.append(map_T_cam[2, 3])
        downs.append(map_T_cam[2, 1])                         # image "down" (optical y) in map z
        d = depth.data.view("<u2").reshape(480, 640)[::8, ::8].astype(float) * 1e-3
        v, u = np.mgrid[0:480:8, 0:640:8]
        ok = d > 0.2
        pc = np.stack([(u[ok] - cx) / fx * d[ok], (v[ok] - cy) / fy * d[ok], d[ok]], axis=1)
        zs.append(pc @ map_T_cam[2, :3] + map_T_cam[2, 3])
    z = np.concatenate(zs)
    assert np.mean(z > -0.05) > 0.97, np.percentile(z, [0.5, 1, 5])
    assert all(0.5 < h < 2.2 for h in heights), heights
    assert np.mean(downs) < -0.7                              # held upright: the image's down points down
