"""Small in-process MemoryView and Navigator for tests, examples and the ROS test's fake backend.

FakeMemory is a dictionary-backed MemoryView (no staleness model of its own: the test sets p_still_there
per object; ``add_pose`` lays the robot's pose trail; ``room_of_xy`` is its room map, what room_at reads).
FakeNavigator moves instantly along straight lines (path cost = Euclidean distance times a detour factor, or
given per goal), and a look detects every true object within ``see_radius_m`` in the same room,
deterministically.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..common.protocols import (
    Absence,
    ChangeEvent,
    Evidence,
    HistorySpan,
    LookResult,
    PlaceInfo,
    PoseSample,
    Sighting,
)
from ..common.types import ObjectObservation


def place_infos(places: Dict[int, Tuple[float, float, int]], rooms: Dict[int, str]) -> List[PlaceInfo]:
    return [PlaceInfo(pid, np.array([x, y, 0.0]), room, rooms.get(room, "")) for pid, (x, y, room) in places.items()]


class FakeMemory:
    """A MemoryView over explicit sightings, spans, absences and changes."""

    def __init__(self, places: Dict[int, Tuple[float, float, int]], rooms: Dict[int, str], now_ns: int = 0,
                 room_of_xy: Optional[Callable[[float, float], int]] = None):
        self._rooms = dict(rooms)
        self._room_of_xy = room_of_xy        # the room map (x, y) -> room id; None: memory has none
        self._places = place_infos(places, rooms)
        self._now = now_ns
        self.sightings: Dict[str, Sighting] = {}
        self.p_still: Dict[str, float] = {}
        self.spans: List[HistorySpan] = []
        self.absence_records: List[Absence] = []
        self.change_events: List[ChangeEvent] = []
        self.move_rate: Dict[str, float] = {}
        self.poses: List[PoseSample] = []            # the robot's pose trail, oldest first
        # detections seen_between reads: (stamp, obs id, object, class, xyz, place)
        self.observed: List[Tuple[int, int, str, str, np.ndarray, int]] = []
        self._obs_id = 0

    def add_object(self, object_id: str, class_name: str, xyz, place_id: int, first_ns: int, last_ns: int,
                   p_still: float = 1.0, color=(0.5, 0.5, 0.5), receptacle: str = "", with_span: bool = True) -> None:
        room = next(p.room_id for p in self._places if p.place_id == place_id)
        self._obs_id += 1
        ev = Evidence(object_ids=[object_id], observation_ids=[self._obs_id], place_ids=[place_id],
                      stamps_ns=[last_ns])
        self.sightings[object_id] = Sighting(object_id, class_name, np.asarray(xyz, float), place_id, room,
                                             first_ns, last_ns, p_still, tuple(color), receptacle, ev)
        self.p_still[object_id] = p_still
        if with_span:
            self.add_span(object_id, class_name, xyz, place_id, first_ns, last_ns)

    def add_span(self, object_id: str, class_name: str, xyz, place_id: int, start_ns: int, end_ns: int) -> None:
        room = next(p.room_id for p in self._places if p.place_id == place_id)
        self._obs_id += 1
        self.spans.append(HistorySpan(object_id, class_name, np.asarray(xyz, float), place_id, room, start_ns, end_ns,
                                      Evidence(object_ids=[object_id], observation_ids=[self._obs_id],
                                               place_ids=[place_id], stamps_ns=[start_ns, end_ns])))

    def add_observation(self, object_id: str, class_name: str, xyz, place_id: int, stamp_ns: int) -> int:
        """One detection of an object (what seen_between reads); returns its observation id."""
        self._obs_id += 1
        self.observed.append((int(stamp_ns), self._obs_id, object_id, class_name, np.asarray(xyz, float), place_id))
        return self._obs_id

    # ---------------------------------------------------------------------------------- MemoryView
    def now_ns(self) -> int:
        return self._now

    def _match(self, query: str, class_name: str, object_id: str) -> bool:
        return query in (class_name, object_id)

    def last_seen(self, query: str, before_ns: Optional[int] = None) -> List[Sighting]:
        out = []
        for s in self.sightings.values():
            if not self._match(query, s.class_name, s.object_id):
                continue
            if before_ns is not None and s.last_seen_ns > before_ns:
                spans = [x for x in self.spans if x.object_id == s.object_id and x.start_ns <= before_ns]
                if not spans:
                    continue
                x = max(spans, key=lambda x: x.start_ns)
                out.append(Sighting(s.object_id, s.class_name, x.position_m, x.place_id, x.room_id, x.start_ns,
                                    min(x.end_ns, before_ns), s.p_still_there, s.color_rgb, s.receptacle, x.evidence))
                continue
            out.append(s)
        return out

    def where_at(self, object_id: str, t_ns: int) -> Optional[Sighting]:
        spans = [x for x in self.spans if x.object_id == object_id and x.start_ns <= t_ns]
        if not spans:
            return None
        x = max(spans, key=lambda x: x.start_ns)
        return Sighting(object_id, x.class_name, x.position_m, x.place_id, x.room_id, x.start_ns, x.end_ns, 1.0,
                        evidence=x.evidence)

    def history(self, query: str, start_ns: Optional[int] = None, end_ns: Optional[int] = None) -> List[HistorySpan]:
        return [x for x in self.spans if self._match(query, x.class_name, x.object_id)
                and (end_ns is None or x.start_ns <= end_ns) and (start_ns is None or x.end_ns >= start_ns)]

    def objects_in(self, room_id: Optional[int] = None, place_id: Optional[int] = None,
                   t_ns: Optional[int] = None) -> List[Sighting]:
        return [s for s in self.sightings.values() if (room_id is None or s.room_id == room_id)
                and (place_id is None or s.place_id == place_id) and (t_ns is None or s.first_seen_ns <= t_ns)]

    def count(self, class_name: str, room_id: Optional[int] = None, t_ns: Optional[int] = None):
        items = [s for s in self.objects_in(room_id, None, t_ns) if s.class_name == class_name]
        ev = Evidence()
        for s in items:
            ev = ev.merged(s.evidence)
        return len(items), ev

    def changes(self, start_ns: Optional[int] = None, end_ns: Optional[int] = None,
                room_id: Optional[int] = None) -> List[ChangeEvent]:
        return [c for c in self.change_events if (start_ns is None or c.stamp_ns >= start_ns)
                and (end_ns is None or c.stamp_ns <= end_ns)
                and (room_id is None or room_id in (c.from_room_id, c.to_room_id))]

    def absences(self, object_id: str, since_ns: Optional[int] = None) -> List[Absence]:
        return [a for a in self.absence_records
                if a.object_id == object_id and (since_ns is None or a.stamp_ns >= since_ns)]

    def p_still_there(self, object_id: str, t_ns: int) -> float:
        return self.p_still.get(object_id, 0.0)

    def class_move_rate_per_day(self, class_name: str) -> float:
        return self.move_rate.get(class_name, 0.5)

    def seen_between(self, start_ns: int, end_ns: int, limit: int = 0) -> List[HistorySpan]:
        rows = sorted(o for o in self.observed if start_ns <= o[0] <= end_ns)
        spans: Dict[str, HistorySpan] = {}
        for stamp, obs_id, oid, cls, xyz, place in rows[:limit] if limit > 0 else rows:
            room = next(p.room_id for p in self._places if p.place_id == place)
            h = spans.setdefault(oid, HistorySpan(oid, cls, xyz, place, room, stamp, stamp, Evidence([oid])))
            h.end_ns, h.position_m, h.place_id, h.room_id = stamp, xyz, place, room
            h.evidence.observation_ids.append(obs_id)
            h.evidence.stamps_ns.append(stamp)
            if place not in h.evidence.place_ids:
                h.evidence.place_ids.append(place)
        return list(spans.values())

    def places(self) -> List[PlaceInfo]:
        return list(self._places)

    def place_edges(self) -> List[Tuple[int, int]]:
        return []

    def path_between_places(self, a: int, b: int) -> List[int]:
        return [a, b]

    def rooms(self) -> Dict[int, str]:
        return dict(self._rooms)

    def room_at(self, position_m: np.ndarray, observed_room_id: int = -1) -> int:
        if self._room_of_xy is None:
            return observed_room_id
        return int(self._room_of_xy(float(position_m[0]), float(position_m[1])))

    def add_pose(self, stamp_ns: int, xy, place_id: int, yaw_rad: float = 0.0, room_id: Optional[int] = None) -> None:
        """One sample of the robot's pose trail (room: the place's unless given). Add them in time order."""
        room = room_id if room_id is not None else next(p.room_id for p in self._places if p.place_id == place_id)
        self.poses.append(PoseSample(int(stamp_ns), np.array([float(xy[0]), float(xy[1]), 1.0]), float(yaw_rad),
                                     place_id, room, f"view{len(self.poses)}"))

    def robot_poses(self, start_ns: Optional[int] = None, end_ns: Optional[int] = None,
                    room_id: Optional[int] = None, limit: int = 0) -> List[PoseSample]:
        out = [p for p in self.poses if (start_ns is None or p.stamp_ns >= start_ns)
               and (end_ns is None or p.stamp_ns <= end_ns) and (room_id is None or p.room_id == room_id)]
        return out[-limit:] if limit > 0 else out


@dataclass
class TrueObject:
    class_name: str
    xyz: Tuple[float, float, float]
    room_id: int
    place_id: int = -1


def _pose3(v: Sequence[float]) -> Tuple[float, float, float]:
    """(x, y, yaw) as floats."""
    return float(v[0]), float(v[1]), float(v[2])


class FakeNavigator:
    """Instant straight-line motion; deterministic looks of the true objects."""

    def __init__(self, start: Tuple[float, float, float], truth: List[TrueObject],
                 room_of_xy=None, see_radius_m: float = 3.0, detour: float = 1.0,
                 path_overrides: Optional[Dict[Tuple[float, float], float]] = None, stamp0_ns: int = 0):
        self.pose: Tuple[float, float, float] = _pose3(start)
        self.truth = truth
        self.room_of_xy = room_of_xy or (lambda x, y: -1)
        self.see_radius_m = see_radius_m
        self.detour = detour
        self.path_overrides = path_overrides or {}
        self.goals: List[Tuple[float, float, float]] = []
        self.driven_m = 0.0
        self.looks = 0
        self.stamp_ns = stamp0_ns
        self.on_go_to = None                  # hook: called after each go_to (tests: cancel)

    def current_pose(self) -> Tuple[float, float, float]:
        return self.pose

    def path_cost_m(self, start, goal) -> float:
        key = (round(goal[0], 3), round(goal[1], 3))
        if key in self.path_overrides:
            return self.path_overrides[key]
        return self.detour * math.hypot(goal[0] - start[0], goal[1] - start[1])

    def go_to(self, goal) -> float:
        d = self.path_cost_m(self.pose, goal)
        if not math.isfinite(d):
            raise RuntimeError("unreachable")
        self.goals.append(tuple(goal))
        self.pose = _pose3(goal)
        self.driven_m += d
        if self.on_go_to is not None:
            self.on_go_to(self)
        return d

    def look(self) -> LookResult:
        self.looks += 1
        self.stamp_ns += 1_000_000_000
        here_room = self.room_of_xy(self.pose[0], self.pose[1])
        obs = []
        for t in self.truth:
            d = math.hypot(t.xyz[0] - self.pose[0], t.xyz[1] - self.pose[1])
            if d <= self.see_radius_m and (here_room < 0 or t.room_id < 0 or t.room_id == here_room):
                c = np.asarray(t.xyz, float)
                obs.append(ObjectObservation(self.stamp_ns, t.class_name, 0.9, c, c - 0.05, c + 0.05,
                                             distance_m=d, view_id=f"v{self.looks}", place_id=t.place_id))
        return LookResult(views=[], observations=obs)
