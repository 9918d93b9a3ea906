"""The approximate-time synchronizer under jitter and drops; the transform buffer against known
transforms, extrapolation limits and out-of-order stamps."""
from __future__ import annotations

import math

import numpy as np
import pytest

from memory_nodes.common.errors import TransformError
from memory_nodes.common.geometry import make_T, pose2d_T, yaw_to_R
from memory_nodes.perception.sync import ApproxTimeSync
from memory_nodes.perception.tf_buffer import TransformBuffer

MS = 1_000_000


# ---------------------------------------------------------------------------- synchronizer


def test_pairs_under_jitter_drops_and_reordering():
    rng = np.random.default_rng(7)
    period, slop = 200 * MS, 20 * MS
    sync = ApproxTimeSync(3, slop, queue_size=5)
    frames = list(range(200))
    dropped = {(k, i) for k in range(3) for i in frames if rng.random() < 0.1}
    events = []
    for i in frames:
        t = i * period
        for k in range(3):
            if (k, i) in dropped:
                continue
            stamp = t + int(rng.integers(-8 * MS, 8 * MS + 1))       # jitter well inside the slop
            events.append((t + int(rng.integers(0, 60 * MS)), k, stamp, (k, i)))   # arrival time
    events.sort()                                                  # inputs interleave out of order
    out = []
    for _, k, stamp, tag in events:
        out += sync.add(k, stamp, tag)
    complete = [i for i in frames if all((k, i) not in dropped for k in range(3))]
    got = [tuple(m) for m in out]
    assert all(len({i for _, i in s}) == 1 for s in got), "a set mixed frames"
    assert [s[0][1] for s in got] == complete
    assert [[k for k, _ in s] for s in got] == [[0, 1, 2]] * len(got)
    # every message that did not reach a set was counted as dropped
    n_in = sum(1 for _ in events)
    assert n_in - 3 * len(got) == sum(sync.dropped)


def test_nearest_partner_wins_and_late_messages_drop():
    sync = ApproxTimeSync(2, 20 * MS)
    assert sync.add(0, 100 * MS, "a100") == []
    assert sync.add(0, 300 * MS, "a300") == []
    assert sync.add(1, 295 * MS, "b295") == [["a300", "b295"]]     # a100 had no partner: dropped
    assert sync.dropped == [1, 0]
    assert sync.add(0, 280 * MS, "late") == []                      # older than what input 0 emitted
    assert sync.dropped == [2, 0]
    assert sync.add(1, 500 * MS, "b500") == []
    assert sync.add(0, 515 * MS, "a515") == [["a515", "b500"]]
    assert sync.add(0, 900 * MS, "a900") == []
    assert sync.add(1, 700 * MS, "b700") == []                      # too far from 900: b700 dropped
    assert sync.dropped == [2, 1]


def test_queue_is_bounded():
    sync = ApproxTimeSync(2, 1 * MS, queue_size=3)
    for i in range(10):
        sync.add(0, i * 100 * MS, i)
    assert sync.dropped[0] == 7
    assert sync.add(1, 900 * MS, "b") == [[9, "b"]]


# ---------------------------------------------------------------------------- transform buffer


def chain_buffer() -> TransformBuffer:
    buf = TransformBuffer(cache_time_ns=10_000 * MS, max_extrapolation_ns=50 * MS)
    buf.set_transform("base_link", "camera_optical", make_T(yaw_to_R(0.0), (0.1, 0.0, 1.15)), 0, static=True)
    buf.set_transform("map", "odom", pose2d_T(1.0, 2.0, 0.5), 0, static=True)
    # odom -> base_link: drive along x at 1 m/s while turning at 0.5 rad/s, samples every 100 ms
    for i in range(0, 21):
        t = i * 100 * MS
        buf.set_transform("odom", "base_link", pose2d_T(i * 0.1, 0.0, 0.05 * i), t)
    return buf


def test_chain_lookup_matches_known_composition():
    buf = chain_buffer()
    t = 1000 * MS
    expected = pose2d_T(1.0, 2.0, 0.5) @ pose2d_T(1.0, 0.0, 0.5) @ make_T(np.eye(3), (0.1, 0.0, 1.15))
    assert np.allclose(buf.lookup("map", "camera_optical", t), expected)
    # inverse direction and a lookup between siblings
    assert np.allclose(buf.lookup("camera_optical", "map", t), np.linalg.inv(expected))
    assert np.allclose(buf.lookup("base_link", "map", t) @ buf.lookup("map", "base_link", t), np.eye(4))


def test_interpolation_lerps_translation_and_slerps_rotation():
    buf = TransformBuffer()
    buf.set_transform("odom", "base", pose2d_T(0.0, 0.0, 0.0), 0)
    buf.set_transform("odom", "base", pose2d_T(2.0, 0.0, math.pi / 2), 1000 * MS)
    T = buf.lookup("odom", "base", 250 * MS)
    assert np.allclose(T[:3, 3], [0.5, 0.0, 0.0])
    assert math.atan2(T[1, 0], T[0, 0]) == pytest.approx(math.pi / 8)
    assert np.allclose(T[:3, :3] @ T[:3, :3].T, np.eye(3))


def test_extrapolation_limits():
    buf = chain_buffer()
    newest = 2000 * MS
    assert np.allclose(buf.lookup("odom", "base_link", newest + 40 * MS), buf.lookup("odom", "base_link", newest))
    with pytest.raises(TransformError, match="extrapolate"):
        buf.lookup("odom", "base_link", newest + 60 * MS)
    b2 = TransformBuffer(max_extrapolation_ns=10 * MS)
    b2.set_transform("a", "b", np.eye(4), 500 * MS)
    b2.set_transform("a", "b", np.eye(4), 600 * MS)
    assert np.allclose(b2.lookup("a", "b", 495 * MS), np.eye(4))
    with pytest.raises(TransformError, match="before the oldest"):
        b2.lookup("a", "b", 480 * MS)
    # 0 means the latest time the whole chain can give
    assert np.allclose(buf.lookup("map", "camera_optical", 0), buf.lookup("map", "camera_optical", newest))


def test_out_of_order_stamps_and_bounded_cache():
    ordered = chain_buffer()
    shuffled = TransformBuffer(cache_time_ns=10_000 * MS, max_extrapolation_ns=50 * MS)
    idx = np.random.default_rng(3).permutation(21)
    for i in idx:
        shuffled.set_transform("odom", "base_link", pose2d_T(i * 0.1, 0.0, 0.05 * i), int(i) * 100 * MS)
    for t in (0, 150 * MS, 777 * MS, 2000 * MS):
        assert np.allclose(shuffled.lookup("odom", "base_link", t), ordered.lookup("odom", "base_link", t))
    small = TransformBuffer(cache_time_ns=500 * MS, max_extrapolation_ns=0)
    for i in range(20):
        small.set_transform("odom", "base", pose2d_T(i, 0.0, 0.0), i * 100 * MS)
    assert small.time_range_ns(("odom", "base")) == (1400 * MS, 1900 * MS)
    with pytest.raises(TransformError):
        small.lookup("odom", "base", 1000 * MS)


def test_unknown_frames_and_bad_trees_fail_clearly():
    buf = chain_buffer()
    with pytest.raises(TransformError, match="unknown"):
        buf.lookup("map", "gripper", 0)
    buf.set_transform("world", "other", np.eye(4), 0, static=True)
    with pytest.raises(TransformError, match="not connected"):
        buf.lookup("map", "other", 0)
    with pytest.raises(TransformError, match="loop"):
        buf.set_transform("camera_optical", "map", np.eye(4), 0, static=True)
    with pytest.raises(TransformError, match="already has parent"):
        buf.set_transform("map", "base_link", np.eye(4), 0)


def test_time_tolerances_come_from_the_config():
    """sync.* and transforms.* jump tolerances (defaults unchanged: 60 s back, 24 h ahead, 3 stamps for a new
    time base) reach the synchronizer's and the tf buffer's StampGuards; a bad value fails fast."""
    from memory_nodes.common.errors import ConfigError
    from memory_nodes.perception.config import PerceptionConfig, SyncConfig, TransformsConfig
    d = PerceptionConfig()
    assert (d.sync.jump_back_tolerance_s, d.sync.jump_forward_tolerance_s, d.sync.new_time_base_stamps) == (
        60.0, 86400.0, 3)
    assert (d.transforms.jump_forward_tolerance_s, d.transforms.new_time_base_stamps) == (86400.0, 3)
    s = 10 ** 9
    # a 10 s jump back: inside the default 60 s, an outlier at 5 s; 2 agreeing stamps make a new base at 2
    sync = ApproxTimeSync(1, 0, 10, jump_tolerance_ns=5 * s, confirm=2, forward_tolerance_ns=20 * s)
    assert sync.add(0, 100 * s, "a") == [["a"]]
    assert sync.add(0, 90 * s, "b") == [] and sync.take_events()[0][0] == "stamp_jump"
    assert sync.add(0, 90 * s + 1, "c") == [["c"]] and sync.take_events()[0][0] == "new_time_base"
    assert sync.add(0, 121 * s, "d") == [] and sync.take_events()[0][0] == "stamp_jump"   # 31 s ahead > 20 s
    tf = TransformBuffer(forward_tolerance_ns=30 * s, new_time_base_stamps=1)
    tf.set_transform("map", "base", np.eye(4), 100 * s)
    tf.set_transform("map", "base", np.eye(4), 200 * s)        # one sample beyond 30 s: a new base at once
    assert tf.time_range_ns(("map", "base")) == (200 * s, 200 * s)
    for bad in (dict(jump_back_tolerance_s=0.0), dict(new_time_base_stamps=0), dict(jump_forward_tolerance_s=-1.0)):
        with pytest.raises(ConfigError):
            SyncConfig(**bad).validate()
    with pytest.raises(ConfigError):
        TransformsConfig(new_time_base_stamps=0).validate()
