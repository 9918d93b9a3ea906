"""Answers from the robot's own pose trail: where it was at a time, its visits to a room, time spent there.

A trail is a list of PoseSample, oldest first, as ``MemoryView.robot_poses`` returns it: the poses of the
views (keyframes) memory stored. Perception makes a keyframe at least every ``views.max_interval_s`` (10 s)
while frames arrive and whenever the camera moved ``views.translation_m`` (0.5 m), so consecutive samples
are seconds apart while the robot runs. The rules, one place for memory and planner:

- **Gap rule.** Between consecutive samples a and b the robot is taken to be where they say only if
  ``b - a <= max_gap_ns``. A longer gap (perception off, the robot asleep on its dock, a forgotten window)
  is time without a pose record: never counted, never interpolated across.
- **Where at t.** The sample nearest to t within ``tolerance_ns`` (else unknown). When t lies between two
  samples at most ``max_gap_ns`` apart it is *bracketed*: a fix, not an extrapolation.
- **Visits.** A visit to a set of rooms is a maximal run of consecutive samples in those rooms, no two
  more than ``max_gap_ns`` apart; it lasts from its first to its last sample.
- **Time in a room** over [start, end]: for every consecutive pair (a, b) with ``b - a <= max_gap_ns``, its
  interval clipped to the window counts in full when both are in the room, half when exactly one is (the
  robot crossed the door somewhere in between), not at all otherwise. ``covered_ns`` is the window time
  the trail speaks for (the clipped intervals of all such pairs); the rest of the window is unknown.
- **Trips.** A trip to a set of rooms ends at an *arrival*: a sample in them whose predecessor is outside
  them or more than ``max_gap_ns`` before it. It starts at the last sample of the room the robot left: the
  asked origin if one is given (no sample of the destination between), otherwise the latest room it
  *stayed* in, a run of samples in one room lasting at least ``min_stay_ns``; rooms of shorter runs (a
  hallway driven through) are passed through. A gap walking back ends the search: the trip's start is
  then unknown (``complete`` False) and, with an origin asked, that arrival is no trip from it.

Times are int ns; rooms are memory's room ids. Pure: no clock, no ROS.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Collection, Dict, List, Optional, Sequence

import numpy as np

from .protocols import PoseSample


def camera_heading_rad(map_T_camera: np.ndarray) -> float:
    """Heading (rad, map x-y plane, 0 = +x, counter-clockwise) of a camera's optical axis (its z axis): the
    robot's heading for a forward camera (geometry.yaw_of is the heading of a base frame's x axis)."""
    T = np.asarray(map_T_camera, dtype=float)
    return float(math.atan2(T[1, 2], T[0, 2]))


@dataclass
class PoseFix:
    """Where the trail puts the robot at ``t_ns``."""
    t_ns: int
    sample: PoseSample                   # the nearest sample
    offset_ns: int                       # |t - sample.stamp_ns|
    bracketed: bool                      # t lies between two samples at most max_gap_ns apart
    other: Optional[PoseSample] = None   # the sample on t's other side when bracketed


@dataclass
class Visit:
    """A run of consecutive samples in the asked rooms (gaps <= max_gap_ns)."""
    room_id: int                         # room of the run's last sample
    start_ns: int
    end_ns: int
    samples: List[PoseSample] = field(default_factory=list)

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


@dataclass
class RoomTimes:
    """Time per room over a window by the gap rule (module docstring)."""
    start_ns: int
    end_ns: int
    per_room_ns: Dict[int, float]        # room id -> ns (half-counted door crossings make it fractional)
    covered_ns: int                      # window time the trail speaks for
    first_ns: int = -1                   # first / last sample stamp inside the window (-1: none)
    last_ns: int = -1

    def of(self, room_ids: Collection[int]) -> float:
        return float(sum(v for r, v in self.per_room_ns.items() if r in room_ids))


def _stamps(trail: Sequence[PoseSample]) -> List[int]:
    return [p.stamp_ns for p in trail]


def check_trail(trail: Sequence[PoseSample]) -> None:
    """Raise ValueError unless the trail is in time order (what robot_poses returns)."""
    for a, b in zip(trail, trail[1:]):
        if b.stamp_ns < a.stamp_ns:
            raise ValueError(f"pose trail out of order: {b.stamp_ns} after {a.stamp_ns}")


def pose_at(trail: Sequence[PoseSample], t_ns: int, tolerance_ns: int, max_gap_ns: int) -> Optional[PoseFix]:
    """The trail's fix at ``t_ns`` (see the module docstring), None when no sample is within tolerance."""
    if not trail:
        return None
    stamps = _stamps(trail)
    i = bisect.bisect_left(stamps, t_ns)
    before = trail[i - 1] if i > 0 else None
    after = trail[i] if i < len(trail) else None
    if after is not None and after.stamp_ns == t_ns:
        return PoseFix(t_ns, after, 0, True)
    cands = [p for p in (before, after) if p is not None and abs(p.stamp_ns - t_ns) <= tolerance_ns]
    if not cands:
        return None
    best = min(cands, key=lambda p: abs(p.stamp_ns - t_ns))
    bracketed = before is not None and after is not None and after.stamp_ns - before.stamp_ns <= max_gap_ns
    other = None
    if bracketed:
        other = after if best is before else before
    return PoseFix(t_ns, best, abs(best.stamp_ns - t_ns), bracketed, other)


def visits(trail: Sequence[PoseSample], room_ids: Collection[int], max_gap_ns: int) -> List[Visit]:
    """Visits to ``room_ids`` (module docstring), oldest first."""
    out: List[Visit] = []
    cur: Optional[Visit] = None
    prev: Optional[PoseSample] = None
    for p in trail:
        inside = p.room_id in room_ids
        joined = (cur is not None and inside and prev is not None and prev.room_id in room_ids
                  and p.stamp_ns - prev.stamp_ns <= max_gap_ns)
        if joined and cur is not None:
            cur.end_ns = p.stamp_ns
            cur.room_id = p.room_id
            cur.samples.append(p)
        elif inside:
            cur = Visit(p.room_id, p.stamp_ns, p.stamp_ns, [p])
            out.append(cur)
        else:
            cur = None
        prev = p
    return out


def room_times(trail: Sequence[PoseSample], start_ns: int, end_ns: int, max_gap_ns: int) -> RoomTimes:
    """Time per room within [start_ns, end_ns] by the gap rule (module docstring)."""
    if end_ns < start_ns:
        raise ValueError(f"window ends ({end_ns}) before it starts ({start_ns})")
    per: Dict[int, float] = {}
    covered = 0
    inside = [p.stamp_ns for p in trail if start_ns <= p.stamp_ns <= end_ns]
    for a, b in zip(trail, trail[1:]):
        if b.stamp_ns - a.stamp_ns > max_gap_ns:
            continue
        lo, hi = max(a.stamp_ns, start_ns), min(b.stamp_ns, end_ns)
        if hi <= lo:
            continue
        span = hi - lo
        covered += span
        if a.room_id == b.room_id:
            per[a.room_id] = per.get(a.room_id, 0.0) + span
        else:
            per[a.room_id] = per.get(a.room_id, 0.0) + span / 2.0
            per[b.room_id] = per.get(b.room_id, 0.0) + span / 2.0
    return RoomTimes(start_ns, end_ns, per, covered, inside[0] if inside else -1, inside[-1] if inside else -1)


@dataclass
class Trip:
    """The robot's way to a room (module docstring, Trips): its samples from leaving the origin to arriving."""
    samples: List[PoseSample]            # oldest first: the origin's last sample .. the destination's first
    origin_room_id: int                  # the room left (-1: the start is not known, a gap before it)
    complete: bool                       # False: the record starts (a gap) before the robot left any room

    @property
    def start_ns(self) -> int:
        return self.samples[0].stamp_ns

    @property
    def end_ns(self) -> int:
        return self.samples[-1].stamp_ns

    @property
    def dest_room_id(self) -> int:
        return self.samples[-1].room_id

    def rooms_passed(self) -> List[int]:
        """Rooms between origin and destination, in the order driven through (outside every room: -1)."""
        inner = self.samples[1:-1] if self.complete else self.samples[:-1]
        out: List[int] = []
        for p in inner:
            if p.room_id not in (self.origin_room_id, self.dest_room_id) and (not out or out[-1] != p.room_id):
                out.append(p.room_id)
        return out


def trip_to(trail: Sequence[PoseSample], dest_rooms: Collection[int], max_gap_ns: int, min_stay_ns: int,
            origin_rooms: Optional[Collection[int]] = None, arrive_after_ns: Optional[int] = None,
            arrive_by_ns: Optional[int] = None) -> Optional[Trip]:
    """The latest trip to ``dest_rooms`` arriving within [arrive_after_ns, arrive_by_ns] (None = open), from
    ``origin_rooms`` if given (module docstring, Trips); None when the trail holds no such trip."""
    if not trail or not dest_rooms:
        return None
    n = len(trail)
    run_start = [0] * n                  # index of the first sample of the one-room run each sample is in
    for j in range(1, n):
        same = trail[j].room_id == trail[j - 1].room_id and trail[j].stamp_ns - trail[j - 1].stamp_ns <= max_gap_ns
        run_start[j] = run_start[j - 1] if same else j
    for i in range(n - 1, -1, -1):
        p = trail[i]
        if arrive_by_ns is not None and p.stamp_ns > arrive_by_ns:
            continue
        if arrive_after_ns is not None and p.stamp_ns < arrive_after_ns:
            break
        if p.room_id not in dest_rooms:
            continue
        if i > 0 and trail[i - 1].room_id in dest_rooms and p.stamp_ns - trail[i - 1].stamp_ns <= max_gap_ns:
            continue                     # inside a visit, not its arrival
        trip = _walk_back(trail, run_start, i, dest_rooms, max_gap_ns, min_stay_ns, origin_rooms)
        if trip is not None:
            return trip
    return None


def _walk_back(trail: Sequence[PoseSample], run_start: List[int], i: int, dest_rooms: Collection[int],
               max_gap_ns: int, min_stay_ns: int, origin_rooms: Optional[Collection[int]]) -> Optional[Trip]:
    j = i - 1
    while j >= 0:
        if trail[j + 1].stamp_ns - trail[j].stamp_ns > max_gap_ns:
            break                        # a gap: how the robot got here before it is unknown
        r = trail[j].room_id
        if origin_rooms is not None:
            if r in origin_rooms:
                return Trip(list(trail[j:i + 1]), r, True)
            if r in dest_rooms:
                return None              # it was in the destination after leaving the origin: not this trip
        elif r >= 0 and trail[j].stamp_ns - trail[run_start[j]].stamp_ns >= min_stay_ns:
            return Trip(list(trail[j:i + 1]), r, True)
        j -= 1
    if origin_rooms is not None:
        return None
    return Trip(list(trail[j + 1:i + 1]), -1, False)
