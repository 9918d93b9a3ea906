"""The robot's own pose history: memory's read of it (robot_poses over stored views: window, room, latest
N, persistence, forks) and the answers read from it (common/trajectory.py: where at t, visits, time in a
room with the gap rule) on a synthetic trajectory whose true answers are known."""
from __future__ import annotations

import math

import numpy as np
import pytest

from memory_nodes.common.errors import InputError
from memory_nodes.common.geometry import base_R_optical, make_T, yaw_to_R
from memory_nodes.common.protocols import PoseSample
from memory_nodes.common.trajectory import camera_heading_rad, pose_at, room_times, visits
from memory_nodes.common.types import CameraIntrinsics, PerceptionOutput, Room, RoomSegmentation, View
from memory_nodes.memory import MemoryCore, queries
from memory_nodes.vocab import VocabConfig, Vocabulary

S = 1_000_000_000
T0 = 1_715_860_800 * S          # 2024-05-16 12:00 UTC
KITCHEN, HALL, LIVING = 0, 1, 2
GAP = 60 * S


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary(VocabConfig(allow_model=False))


def _trail():
    """kitchen 0-300 s (every 10 s), hall 310-360 s, no record 360-3600 s (perception off), living room
    3600-4200 s, kitchen 4210-4800 s."""
    out = []

    def run(room, a, b, x):
        for t in range(a, b + 1, 10):
            out.append(PoseSample(T0 + t * S, np.array([x, 1.0, 1.0]), 0.0, room, room, f"v{t}"))
    run(KITCHEN, 0, 300, 1.0)
    run(HALL, 310, 360, 5.0)
    run(LIVING, 3600, 4200, 9.0)
    run(KITCHEN, 4210, 4800, 1.0)
    return out


def test_where_at_is_the_nearest_sample_within_tolerance_and_unknown_in_a_gap():
    trail = _trail()
    fix = pose_at(trail, T0 + 123 * S, 60 * S, GAP)
    assert fix is not None and fix.sample.room_id == KITCHEN and fix.offset_ns == 3 * S and fix.bracketed
    assert fix.other is not None and fix.other.room_id == KITCHEN
    # between the kitchen's last sample (300 s) and the hall's first (310 s): the nearer one, both rooms known
    fix = pose_at(trail, T0 + 308 * S, 60 * S, GAP)
    assert fix.sample.room_id == HALL and fix.other.room_id == KITCHEN
    # 20 minutes into the gap: no sample within a minute, so no fix (never interpolated across the gap)
    assert pose_at(trail, T0 + 1560 * S, 60 * S, GAP) is None
    # 30 s after the hall's last sample: within tolerance, but not bracketed (the record stops there)
    fix = pose_at(trail, T0 + 390 * S, 60 * S, GAP)
    assert fix.sample.room_id == HALL and not fix.bracketed and fix.offset_ns == 30 * S
    assert pose_at([], T0, 60 * S, GAP) is None


def test_visits_split_at_other_rooms_and_at_gaps():
    trail = _trail()
    v = visits(trail, {KITCHEN}, GAP)
    assert [(x.start_ns - T0) // S for x in v] == [0, 4210]
    assert [(x.end_ns - T0) // S for x in v] == [300, 4800]
    # a gap longer than max_gap splits one room's run into two visits
    cut = [p for p in trail if not (T0 + 100 * S < p.stamp_ns < T0 + 200 * S)]
    assert [(x.start_ns - T0) // S for x in visits(cut, {KITCHEN}, GAP)] == [0, 200, 4210]


def test_time_in_room_counts_pairs_within_the_gap_half_at_door_crossings_and_never_the_gap():
    trail = _trail()
    rt = room_times(trail, T0, T0 + 4800 * S, GAP)
    # kitchen: 300 s + 590 s inside, plus half of each crossing pair touching it (300->310, 4200->4210)
    assert rt.of({KITCHEN}) == pytest.approx((300 + 590 + 5 + 5) * S)
    assert rt.of({HALL}) == pytest.approx((50 + 5) * S)
    assert rt.of({LIVING}) == pytest.approx((600 + 5) * S)
    # the 3240 s gap (360 -> 3600) is in no room and not covered
    assert rt.covered_ns == (4800 - 3240) * S
    assert sum(rt.per_room_ns.values()) == pytest.approx(rt.covered_ns)
    # a window clips the intervals: 4500-6000 s holds the kitchen's last 300 s only
    part = room_times(trail, T0 + 4500 * S, T0 + 6000 * S, GAP)
    assert part.of({KITCHEN}) == pytest.approx(300 * S) and part.covered_ns == 300 * S
    assert (part.first_ns - T0) // S == 4500 and (part.last_ns - T0) // S == 4800
    # with a tighter gap the 10 s samples still join; with max_gap under their spacing nothing counts
    assert room_times(trail, T0, T0 + 4800 * S, 5 * S).covered_ns == 0
    with pytest.raises(ValueError):
        room_times(trail, T0 + 10, T0, GAP)


def test_camera_heading_is_the_optical_axis_in_the_map_plane():
    for yaw in (0.0, 1.0, -2.5, math.pi / 2):
        T = make_T(yaw_to_R(yaw) @ base_R_optical, (1.0, 2.0, 1.0))
        assert camera_heading_rad(T) == pytest.approx(yaw)


# ------------------------------------------------------------------------------- memory's read of it
_INTR = CameraIntrinsics(8, 6, 6.0, 6.0, 3.5, 2.5)


def _rooms(stamp: int, split_x: float = 4.0) -> RoomSegmentation:
    """Two rooms side by side: kitchen x < split_x, living room beyond (0.5 m cells, 8 m x 4 m)."""
    grid = np.zeros((8, 16), np.int16)
    grid[:, int(split_x / 0.5):] = 1
    return RoomSegmentation(stamp, [Room(0, "kitchen", 0.9, np.array([2.0, 2.0, 0.0])),
                                    Room(1, "living room", 0.9, np.array([6.0, 2.0, 0.0]))], grid, 0.5, (0.0, 0.0))


def _frame(t_s: int, x: float, yaw: float = 0.0, rooms=None) -> PerceptionOutput:
    T = make_T(yaw_to_R(yaw) @ base_R_optical, (x, 2.0, 1.0))
    v = View(f"v{t_s}", T0 + t_s * S, T, _INTR, np.full((6, 8), 3.0, np.float32), b"", int(x), [])
    return PerceptionOutput(T0 + t_s * S, [], v, int(x), None, rooms)


def _drive(mem: MemoryCore, commit: bool = True) -> None:
    """Kitchen (x 1..3) 0-200 s, living room (x 5..7) 210-400 s, one view per 10 s."""
    mem.ingest(_frame(0, 1.0, rooms=_rooms(T0)))
    for t in range(10, 401, 10):
        x = 1.0 + 2.0 * t / 200 if t <= 200 else 5.0 + 2.0 * (t - 210) / 190
        mem.ingest(_frame(t, x, yaw=0.5))
    if commit:
        mem.commit()


def test_memory_serves_the_trail_by_window_room_and_latest(vocab):
    mem = MemoryCore.in_memory(vocab=vocab)
    _drive(mem)
    trail = mem.robot_poses()
    assert len(trail) == 41 and [p.stamp_ns for p in trail] == sorted(p.stamp_ns for p in trail)
    p = trail[5]
    assert p.view_id == "v50" and p.position_m[0] == pytest.approx(1.5) and p.yaw_rad == pytest.approx(0.5)
    assert {q.room_id for q in trail[:21]} == {0} and {q.room_id for q in trail[21:]} == {1}
    win = mem.robot_poses(T0 + 100 * S, T0 + 150 * S)
    assert [(q.stamp_ns - T0) // S for q in win] == [100, 110, 120, 130, 140, 150]
    kitchen = mem.robot_poses(room_id=0, limit=3)
    assert [(q.stamp_ns - T0) // S for q in kitchen] == [180, 190, 200]      # the latest three, oldest first
    assert mem.robot_poses(T0 + 500 * S) == []
    # rooms are those of the latest cut: move the wall and the same poses change room
    mem.ingest(PerceptionOutput(T0 + 401 * S, [], None, -1, None, _rooms(T0 + 401 * S, split_x=2.0)))
    assert mem.robot_poses(T0 + 100 * S, T0 + 100 * S)[0].room_id == 1
    with pytest.raises(InputError):
        mem.robot_poses(T0 + 10, T0)
    with pytest.raises(InputError):
        mem.robot_poses(limit=-1)


def test_the_trail_persists_pages_newest_first_and_forks_do_not_double_it(tmp_path, vocab, monkeypatch):
    path = str(tmp_path / "m.db")
    mem = MemoryCore.open(path, vocab=vocab)
    _drive(mem)
    before = [(p.stamp_ns, p.view_id, p.room_id, round(float(p.position_m[0]), 6)) for p in mem.robot_poses()]
    assert len(before) == 41
    mem.close()
    mem = MemoryCore.open(path, vocab=vocab)
    after = [(p.stamp_ns, p.view_id, p.room_id, round(float(p.position_m[0]), 6)) for p in mem.robot_poses()]
    assert after == before
    # stored rows and uncommitted ones together: the latest 30 span both
    mem.set_writes_paused(True)
    for t in range(410, 601, 10):
        mem.ingest(_frame(t, 6.0))
    assert mem.has_uncommitted and len(mem.state.recent_poses) == 20
    got = mem.robot_poses(limit=30)
    assert len(got) == 30 and (got[-1].stamp_ns - T0) // S == 600 and (got[0].stamp_ns - T0) // S == 310
    assert len(mem.robot_poses(room_id=0)) == 21
    monkeypatch.setattr(queries, "POSE_PAGE_ROWS", 4)       # many pages: each starts below the last key
    assert [p.view_id for p in mem.robot_poses(room_id=0)] == [f"v{t}" for t in range(0, 201, 10)]
    assert [p.view_id for p in mem.robot_poses(room_id=0, limit=2)] == ["v190", "v200"]
    f = mem.fork()
    mem.set_writes_paused(False)
    mem.commit()                       # the fork's RAM rows are now also in the store it reads
    assert [p.view_id for p in f.robot_poses()] == [p.view_id for p in mem.robot_poses()]
    mem.close()
