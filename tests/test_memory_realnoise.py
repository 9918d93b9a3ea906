"""Identity and change under a real detector's noise (as seen on the 7-Scenes replay): large furniture seen
in parts, one object boxed twice in a frame, class flicker between a class and a kind of it, a small
object next to a large one of another class, false positives from one viewpoint, misses from one
viewpoint, and real moves. Observations carry no ids; the scenes are built by hand, in the map frame
(z up), seen by a small pinhole camera whose views carry constant depth images."""
from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple

import numpy as np
import pytest

from memory_nodes.common.geometry import base_R_optical, make_T, yaw_to_R
from memory_nodes.common.types import CameraIntrinsics, ObjectObservation, PerceptionOutput, View
from memory_nodes.memory import MemoryCore
from memory_nodes.memory.config import NS_PER_S
from memory_nodes.vocab import VocabConfig, Vocabulary

_INTR = CameraIntrinsics(40, 30, 30.0, 30.0, 19.5, 14.5)
_DT = NS_PER_S // 10                      # 10 Hz


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary(VocabConfig(allow_model=False))


def _cam(x: float, y: float, yaw: float, z: float = 1.2) -> np.ndarray:
    return make_T(yaw_to_R(yaw) @ base_R_optical, (x, y, z))


def _looking_at(x: float, y: float, target: Sequence[float]) -> np.ndarray:
    return _cam(x, y, math.atan2(target[1] - y, target[0] - x))


def _view(stamp: int, T: np.ndarray, depth_m: float) -> View:
    return View(f"v{stamp}", stamp, T, _INTR, np.full((30, 40), depth_m, np.float32), b"", 0, [])


def _box_obs(stamp: int, cls: str, lo, hi, score: float = 0.55, color=(0.6, 0.45, 0.3),
             view_id: str = "") -> ObjectObservation:
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    c = (lo + hi) / 2.0
    return ObjectObservation(stamp, cls, score, c, lo, hi, 200, color, None, float(np.linalg.norm(c)), view_id)


def _frame(mem: MemoryCore, stamp: int, obs: List[ObjectObservation], T: Optional[np.ndarray] = None,
           depth_m: float = 5.0) -> None:
    view = _view(stamp, T, depth_m) if T is not None else None
    for o in obs:
        o.view_id = view.view_id if view is not None else ""
    mem.ingest(PerceptionOutput(stamp, obs, view=view))


def _confirmed(mem: MemoryCore):
    return [t for t in mem.state.tracks.values() if t.confirmed]


def _family(mem: MemoryCore, cls: str) -> int:
    return sum(1 for t in _confirmed(mem) if mem.vocab.generalizations(t.class_name)[-1] == cls)


def _kinds(mem: MemoryCore) -> List[str]:
    return [e.kind for e in mem.changes()]


# a 2 m table: left half, right half, the whole
_TABLE = (np.array([1.5, -0.5, 0.70]), np.array([3.5, 0.5, 0.76]))
_LEFT = (np.array([1.5, -0.5, 0.70]), np.array([2.6, 0.5, 0.76]))
_RIGHT = (np.array([2.45, -0.5, 0.70]), np.array([3.5, 0.5, 0.76]))


def _table_in_parts(mem: MemoryCore, t0: int = 0) -> int:
    """A hand-held camera walking past the table: first only its left part is detected, then only its
    right part, then both parts as two boxes in one frame, then the whole; labels flicker between
    "dining table" and its general class "table"."""
    rng = np.random.default_rng(4)
    t = t0
    runs: List[Tuple[str, int]] = [("left", 20), ("right", 20), ("both", 10), ("whole", 10)]
    k = 0
    for what, n in runs:
        for _ in range(n):
            x = -0.5 + 0.05 * k                       # the camera moves 5 cm a frame along the table
            T = _looking_at(x, -2.0, (2.5, 0.0))
            label = "table" if k % 4 == 3 else "dining table"
            jit = rng.normal(0.0, 0.02, 3)
            boxes = {"left": [_LEFT], "right": [_RIGHT], "both": [_LEFT, _RIGHT], "whole": [_TABLE]}[what]
            obs = [_box_obs(t, label, lo + jit, hi + jit, score=0.5 + 0.1 * (i == 0)) for i, (lo, hi) in
                   enumerate(boxes)]
            _frame(mem, t, obs, T, depth_m=2.6)        # a surface where the table is
            t += _DT
            k += 1
    return t


def test_a_table_seen_in_parts_is_one_object_and_never_moves(vocab):
    mem = MemoryCore.in_memory(vocab=vocab)
    _table_in_parts(mem)
    tables = [t for t in _confirmed(mem) if vocab.generalizations(t.class_name)[-1] == "table"]
    assert len(tables) == 1, [(t.id, t.class_name, t.pos) for t in tables]
    tr = tables[0]
    assert tr.class_name == "dining table"                     # "table" labels voted within the track
    assert tr.votes.get("table", 0.0) > 0.0
    assert tr.extent_max[0] - tr.extent_min[0] >= 1.6          # the extent grew over both parts
    assert _kinds(mem) == []                                   # no move from its parts' centroids
    n, _ = mem.count("table")
    assert n == 1


def test_one_object_boxed_twice_in_a_frame_is_one_object(vocab):
    """Per-class NMS leaves two overlapping boxes of one chair now and then: one object, not two."""
    mem = MemoryCore.in_memory(vocab=vocab)
    lo, hi = np.array([2.0, -0.3, 0.0]), np.array([2.5, 0.3, 0.9])
    for k in range(30):
        t = k * _DT
        T = _looking_at(0.0, -0.5 + 0.04 * k, (2.25, 0.0))
        obs = [_box_obs(t, "chair", lo, hi)]
        if k % 3 == 0:                                         # a second, shifted box of the same chair
            obs.append(_box_obs(t, "chair", lo + [0.0, 0.03, 0.1], hi + [0.0, 0.03, 0.0], score=0.45))
        _frame(mem, t, obs, T, depth_m=2.1)
    assert _family(mem, "chair") == 1
    assert _kinds(mem) == []


def test_a_book_beside_a_chair_is_not_absorbed_into_it(vocab):
    """The old rule absorbed a young record of another class within 20 cm of an object seen twice as
    often: a book 6 cm from a chair's centre vanished into the chair. Comparable size is needed now."""
    mem = MemoryCore.in_memory(vocab=vocab)
    chair = (np.array([2.0, -0.25, 0.0]), np.array([2.5, 0.25, 0.95]))
    book = (np.array([2.15, -0.05, 0.50]), np.array([2.35, 0.15, 0.53]))   # on the seat, centre 6 cm away
    for k in range(40):
        t = k * _DT
        T = _looking_at(0.0, -0.6 + 0.04 * k, (2.25, 0.0))
        # runs of three frames on the book, six on the chair: never both in one frame
        obs = [_box_obs(t, "chair", *chair)] if k % 9 > 2 else [_box_obs(t, "book", *book, color=(0.5, 0.2, 0.6))]
        _frame(mem, t, obs, T, depth_m=2.2)
    assert _family(mem, "chair") == 1 and _family(mem, "book") == 1, \
        [(t.class_name, t.hits) for t in _confirmed(mem)]


def test_a_false_positive_from_one_viewpoint_is_not_an_object_until_seen_from_another(vocab):
    mem = MemoryCore.in_memory(vocab=vocab)
    spot = (np.array([2.0, -0.1, 0.9]), np.array([2.2, 0.1, 1.1]))
    T = _cam(0.0, 0.0, 0.0)
    t = 0
    for k in range(30):                                        # one second of frames from one pose
        t = k * NS_PER_S // 30
        _frame(mem, t, [_box_obs(t, "vase", *spot, score=0.5)], T, depth_m=2.1)
    assert _family(mem, "vase") == 0 and mem.stats()["tentative"] == 1
    T2 = _looking_at(0.3, -1.0, (2.1, 0.0))                    # another viewpoint: 1 m aside, turned
    for _ in range(3):
        t += NS_PER_S // 30
        _frame(mem, t, [_box_obs(t, "vase", *spot, score=0.5)], T2, depth_m=2.3)
    assert _family(mem, "vase") == 1


def test_a_sure_detector_confirms_by_frames(vocab):
    mem = MemoryCore.in_memory(vocab=vocab)
    spot = (np.array([2.0, -0.1, 0.9]), np.array([2.2, 0.1, 1.1]))
    T = _cam(0.0, 0.0, 0.0)
    for k in range(3):
        t = k * NS_PER_S // 30
        _frame(mem, t, [_box_obs(t, "vase", *spot, score=0.9)], T, depth_m=2.1)
    assert _family(mem, "vase") == 1


def _mug_seen(mem: MemoryCore, p: np.ndarray, t0: int, n: int = 12) -> int:
    """A mug at p seen from a camera sweeping 1.2 m sideways (distinct viewpoints)."""
    t = t0
    for k in range(n):
        T = _looking_at(0.0, -0.6 + 0.1 * k, p)
        _frame(mem, t, [_box_obs(t, "cup", p - 0.05, p + 0.05, score=0.6, color=(0.9, 0.9, 0.9))], T,
               depth_m=float(np.linalg.norm(p[:2])))
        t += _DT
    return t


def test_misses_from_one_viewpoint_do_not_make_a_static_object_disappear(vocab):
    mem = MemoryCore.in_memory(vocab=vocab)
    p = np.array([2.0, 0.0, 0.8])
    t = _mug_seen(mem, p, 0)
    (oid,) = mem.objects()
    T = _looking_at(0.2, 0.0, p)
    for _ in range(8):                       # not detected from here, a surface where it is: misses
        t += NS_PER_S // 2
        _frame(mem, t, [], T, depth_m=1.8)
    assert len(mem.absences(oid)) == 8
    assert _kinds(mem) == [] and mem.get_object(oid).class_name == "mug"
    # the same spot seen through (depth far behind it), three times: it is gone
    for _ in range(3):
        t += NS_PER_S // 2
        _frame(mem, t, [], T, depth_m=5.0)
    assert _kinds(mem) == ["disappeared"]


def test_a_real_move_on_the_table_is_found(vocab):
    """A mug moved 40 cm (within the gate): its new place seen from two viewpoints and the old spot seen
    empty -> one "moved" event, same identity."""
    mem = MemoryCore.in_memory(vocab=vocab)
    p0, p1 = np.array([2.0, 0.0, 0.8]), np.array([2.0, 0.4, 0.8])
    t = _mug_seen(mem, p0, 0)
    (oid,) = mem.objects()
    t += 60 * NS_PER_S
    for k in range(8):
        T = _looking_at(0.0, -0.6 + 0.15 * k, (2.0, 0.2))
        _frame(mem, t, [_box_obs(t, "cup", p1 - 0.05, p1 + 0.05, score=0.6, color=(0.9, 0.9, 0.9))], T,
               depth_m=5.0)                   # the wall far behind: the old spot is seen through
        t += _DT
    assert mem.objects() == [oid]
    ev = [e for e in mem.changes() if e.kind == "moved"]
    assert len(ev) == 1 and ev[0].object_id == oid
    assert np.allclose(ev[0].to_position_m, p1, atol=0.05) and np.allclose(ev[0].from_position_m, p0, atol=0.05)


def test_an_offset_seen_from_one_viewpoint_with_the_object_still_there_is_no_move(vocab):
    """A chair's centre shifts with the side it is seen from: sightings 40 cm off, from one viewpoint,
    while the old spot shows a surface (it may be the chair, undetected) -> no event."""
    mem = MemoryCore.in_memory(vocab=vocab)
    p0, p1 = np.array([2.0, 0.0, 0.8]), np.array([2.0, 0.4, 0.8])
    t = _mug_seen(mem, p0, 0)
    T = _looking_at(0.0, 0.0, (2.0, 0.2))
    for _ in range(12):
        _frame(mem, t, [_box_obs(t, "cup", p1 - 0.05, p1 + 0.05, score=0.6, color=(0.9, 0.9, 0.9))], T,
               depth_m=2.0)
        t += _DT
    assert _kinds(mem) == []


_CHAIR = np.array([0.25, 0.25, 0.45])     # half size: 0.5 x 0.5 x 0.9 m


def _chair_frames(mem: MemoryCore, centre: np.ndarray, half: np.ndarray, cams: Sequence[Tuple[float, float]],
                  t: int, per_cam: int, depth_m: float) -> int:
    for x, y in cams:
        T = _looking_at(x, y, centre)
        for _ in range(per_cam):
            _frame(mem, t, [_box_obs(t, "chair", centre - half, centre + half, score=0.7)], T, depth_m=depth_m)
            t += _DT
    return t


@pytest.mark.parametrize("n_cams,moved", [(2, False), (4, True)])
def test_a_chair_seen_in_part_off_its_spot_from_two_viewpoints_is_no_move(vocab, n_cams, moved):
    """Behind a table only the chair's back is boxed: the centroid sits 0.38 m off (less than the chair is
    across), alike from the two viewpoints a hand-held camera passes in a second (the real 7-Scenes
    kitchen did this), and the spot shows a surface (the chair, undetected) -> no event; the same offset
    seen from more viewpoints (move_views_small_shift) is a move."""
    mem = MemoryCore.in_memory(vocab=vocab)
    p0 = np.array([2.5, 0.0, 0.45])
    sweep = [(0.0, -0.6 + 0.1 * k) for k in range(12)]
    t = _chair_frames(mem, p0, _CHAIR, sweep, 0, 2, depth_m=2.3)
    (oid,) = mem.objects()
    t += 2 * NS_PER_S
    part = np.array([2.5, -0.38, 0.6])              # the back only: a smaller box, its centre off the spot
    cams = [(0.0, -1.0), (0.0, -0.5), (0.0, 0.0), (0.0, 0.5)][:n_cams]
    t = _chair_frames(mem, part, np.array([0.2, 0.1, 0.3]), cams, t, 4, depth_m=2.3)
    assert mem.objects() == [oid]
    assert _kinds(mem) == (["moved"] if moved else [])


def test_new_track_fields_survive_a_restart(vocab, tmp_path):
    path = str(tmp_path / "m.db")
    mem = MemoryCore.open(path, vocab=vocab)
    _table_in_parts(mem)
    before = {t.id: (t.extent_min.copy(), t.extent_max.copy(), len(t.viewpoints), t.views_seen)
              for t in _confirmed(mem)}
    mem.close()
    again = MemoryCore.open(path, vocab=vocab)
    after = {t.id: (t.extent_min, t.extent_max, len(t.viewpoints), t.views_seen) for t in _confirmed(again)}
    assert set(after) == set(before)
    for k, (lo, hi, nv, vs) in before.items():
        assert np.allclose(after[k][0], lo, atol=1e-3) and np.allclose(after[k][1], hi, atol=1e-3)
        assert after[k][2:] == (nv, vs)
    again.close()
