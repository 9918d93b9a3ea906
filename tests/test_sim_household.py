"""Household dynamics and the ground-truth log: resting poses, habits, calendar, persistence."""
from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest

from memory_nodes.common.errors import InputError, NotFoundError, StoreError
from sim import Simulator
from sim.calendar import NS_PER_DAY, Calendar
from sim.ground_truth import GT_VERSION, GroundTruthLog
from sim.household import Household
from sim.render.geometry import furniture_prims

DAYS = 14


@pytest.fixture(scope="module")
def sim14():
    s = Simulator(seed=0)
    s.ground_truth(DAYS)
    return s


def _sample_times(sim, days, step_h=1.0):
    s0 = sim.calendar.day_start_ns(0)
    return [s0 + int(h * 3600e9) for h in np.arange(0.0, days * 24.0, step_h)]


def _prim_boxes(f, pose):
    """World-frame axis-aligned boxes (x0, y0, z0, x1, y1, z1) of a furniture piece's primitives."""
    x, y, yaw = pose
    c, s = math.cos(yaw), math.sin(yaw)
    out = []
    for p in furniture_prims(f):
        if p.kind == "box":
            hx, hy, hz = p.size
        else:
            hx = hy = p.size[0]
            hz = p.size[1] if p.kind == "cylinder" else p.size[0]
        px, py = x + c * p.pos[0] - s * p.pos[1], y + s * p.pos[0] + c * p.pos[1]
        ex, ey = abs(c) * hx + abs(s) * hy, abs(s) * hx + abs(c) * hy
        out.append((px - ex, py - ey, p.pos[2] - hz, px + ex, py + ey, p.pos[2] + hz))
    return out


def test_objects_rest_on_a_receptacle_and_intersect_no_furniture(sim14):
    w = sim14.world
    log = sim14.ground_truth(DAYS)
    prim_boxes = {f.furniture_id: _prim_boxes(f, (f.center_xy_m[0], f.center_xy_m[1], f.yaw_rad))
                  for f in w.furniture if not f.drifts}
    checked = 0
    for t in _sample_times(sim14, DAYS, step_h=3.0):
        states = log.object_states(t)
        placed = []
        for oid, st in states.items():
            if not st.present:
                continue
            o = w.object_by_id(oid)
            f = w.furniture_by_id(st.furniture_id)
            assert f.receptacle
            s = f.surfaces[st.surface_index]
            ex, ey = o.half_extents_xy_m(st.yaw_rad)
            x, y, z = st.position_m
            # resting: bottom on the surface, footprint inside it, fits under what is above
            assert z - o.size_m[2] / 2 == pytest.approx(s.z_m, abs=1e-6)
            assert s.min_xy_m[0] - 1e-6 <= x - ex and x + ex <= s.max_xy_m[0] + 1e-6, oid
            assert s.min_xy_m[1] - 1e-6 <= y - ey and y + ey <= s.max_xy_m[1] + 1e-6, oid
            assert o.size_m[2] <= s.clearance_m
            assert st.room_id == f.room_id == w.room_at(x, y)
            box = (x - ex, y - ey, z - o.size_m[2] / 2, x + ex, y + ey, z + o.size_m[2] / 2)
            for fid, boxes in prim_boxes.items():
                for b in boxes:
                    inter = [min(box[i + 3], b[i + 3]) - max(box[i], b[i]) for i in range(3)]
                    assert not all(v > 1e-4 for v in inter), (oid, fid, inter)
            for other in placed:
                inter = [min(box[i + 3], other[1][i + 3]) - max(box[i], other[1][i]) for i in range(3)]
                assert not all(v > 1e-4 for v in inter), (oid, other[0])
            placed.append((oid, box))
            checked += 1
    assert checked > 1000


def test_habits_are_learnable_from_14_days(sim14):
    w = sim14.world
    log = sim14.ground_truth(DAYS)
    times = _sample_times(sim14, DAYS, step_h=0.5)
    hits, total = 0, 0
    strong = {"keys", "toothbrush", "laptop", "glasses", "headphones", "shoes"}
    for o in w.objects:
        if not o.habitual or o.consumable:
            continue
        c = Counter(log.object_state(o.object_id, t).furniture_id for t in times)
        c.pop("", None)
        if not c:
            continue
        mode = c.most_common(1)[0][0]
        total += 1
        hits += mode == o.home_furniture_id
        if o.class_name in strong:
            assert mode == o.home_furniture_id, (o.object_id, c.most_common(3))
    assert total >= 30
    assert hits / total >= 0.85, f"{hits}/{total} habitual objects are mostly at their habit"


def test_routines_move_objects_in_bursts_at_times_of_day(sim14):
    log = sim14.ground_truth(DAYS)
    cal = sim14.calendar
    changes = log.changes(cal.day_start_ns(0) + 1, cal.day_start_ns(DAYS))
    causes = Counter(c.cause for c in changes)
    for routine in ("breakfast", "dinner", "tidy", "kids_play", "consumed", "restocked", "new_item"):
        assert causes[routine] > 0, causes
    hours = Counter(int(cal.time_of_day_s(c.t_ns) // 3600) for c in changes)
    assert sum(hours[h] for h in range(0, 6)) == 0                   # nights are quiet
    bd = [cal.time_of_day_s(c.t_ns) / 3600 for c in changes if c.cause == "breakfast"]
    weekday_bd = [cal.time_of_day_s(c.t_ns) / 3600 for c in changes
                  if c.cause == "breakfast" and not cal.is_weekend(cal.day_of(c.t_ns))]
    assert weekday_bd and all(6.5 <= h <= 8.0 for h in weekday_bd)
    assert len(bd) > len(weekday_bd)
    chairs = [fid for fid in log.moving_furniture_ids()]
    assert chairs and all(sim14.world.furniture_by_id(f).drifts for f in chairs)


def test_consumables_used_up_restocked_and_new_items_appear(sim14):
    w = sim14.world
    log = sim14.ground_truth(DAYS)
    cal = sim14.calendar
    consumed = {c.object_id for c in log.changes(cal.day_start_ns(0), cal.day_start_ns(DAYS)) if c.cause == "consumed"}
    assert consumed and all(w.object_by_id(o).consumable for o in consumed)
    new = [o for o in w.objects if o.appear_day > 0]
    for o in new:
        before = log.object_state(o.object_id, cal.day_start_ns(o.appear_day) - 1)
        first = log.object_history(o.object_id)[0]
        assert not before.present
        assert first.present and first.cause == "new_item" and cal.day_of(first.t_ns) == o.appear_day


def test_calendar_dates_and_weekdays():
    cal = Calendar("2025-03-03")
    assert cal.weekday_name(0) == "Monday" and cal.weekday_name(5) == "Saturday" and cal.is_weekend(6)
    t = cal.stamp_ns(9, 3600 * 10 + 30)
    assert cal.day_of(t) == 9 and cal.time_of_day_s(t) == pytest.approx(36030.0)
    assert cal.date(9).isoformat() == "2025-03-12"
    assert cal.day_start_ns(1) - cal.day_start_ns(0) == NS_PER_DAY
    assert cal.describe(t).startswith("Wed 2025-03-12 10:00:30")


def test_ground_truth_round_trip_and_continue_from_disk(tmp_path):
    fresh = Simulator(seed=2)
    full = fresh.ground_truth(6)
    part = Simulator(seed=2).ground_truth(3)
    path = part.save(tmp_path / "gt.jsonl")
    header = json.loads(path.read_text().splitlines()[0])
    assert header["format"] == "household_ground_truth" and header["version"] == GT_VERSION
    resumed = Simulator(seed=2)
    resumed.use_ground_truth(GroundTruthLog.load(path))
    cont = resumed.ground_truth(6)
    assert cont.days_simulated == 6
    assert list(cont.records()) == list(full.records())
    gz = full.save(tmp_path / "gt.jsonl.gz")
    again = GroundTruthLog.load(gz)
    t = fresh.calendar.stamp_ns(4, 50000)
    assert again.object_states(t) == full.object_states(t)


def test_ground_truth_refuses_foreign_or_corrupt_files(tmp_path):
    s = Simulator(seed=0)
    log = s.ground_truth(1)
    p = log.save(tmp_path / "gt.jsonl")
    lines = p.read_text().splitlines()
    hdr = json.loads(lines[0])
    hdr["version"] = 99
    bad = tmp_path / "v99.jsonl"
    bad.write_text("\n".join([json.dumps(hdr)] + lines[1:]) + "\n")
    with pytest.raises(StoreError):
        GroundTruthLog.load(bad)
    trunc = tmp_path / "trunc.jsonl"
    trunc.write_text("\n".join(lines[:3]) + "\n{\"type\": \"object\", \"t_ns\": 1\n")
    with pytest.raises(StoreError):
        GroundTruthLog.load(trunc)
    with pytest.raises(StoreError):
        GroundTruthLog.load(tmp_path / "missing.jsonl")
    other = Simulator(seed=1)
    with pytest.raises(InputError, match="ground_truth_mismatch"):
        other.use_ground_truth(GroundTruthLog.load(p))
    with pytest.raises(NotFoundError):
        log.object_state("no_such_object", 0)


def test_day_is_deterministic_given_its_start_state():
    s = Simulator(seed=4)
    hh = Household(s.world, s.config.household, s.calendar)
    a = hh.extend(hh.new_log(), 3)
    b = hh.extend(hh.new_log(), 3)
    assert list(a.records()) == list(b.records())
