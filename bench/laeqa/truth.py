"""Ground-truth queries over one simulated home (scorers and the question generator only).

Everything here reads the simulator's world and ground-truth log, plus the *true* visibility index of the
patrol (which object the robot's camera had in view, before detector noise, at which stamps) for the
robot-centric truths ("when did you last see X"). Nothing in the stack under test ever sees this.
"""
from __future__ import annotations

import bisect
from collections import defaultdict
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from sim.calendar import NS_PER_S, Calendar
from sim.ground_truth import GroundTruthLog, ObjectState
from sim.world import World

NS_PER_H = 3600 * NS_PER_S


class HomeTruth:
    """True states of one home over time. ``seen`` maps entity id -> sorted stamps (ns) at which the
    robot's camera truly had it in view during the patrols; ``canonical`` maps a simulator class name to
    the vocabulary's canonical class (what the stack calls it)."""

    def __init__(self, world: World, log: GroundTruthLog, calendar: Calendar, seen: Dict[str, List[int]],
                 canonical) -> None:
        self.world = world
        self.log = log
        self.calendar = calendar
        self.seen = {k: sorted(v) for k, v in seen.items()}
        self._canonical = canonical
        self._canon_cache: Dict[str, str] = {}
        self.room_type = {r.room_id: r.room_type for r in world.rooms}
        self.objects = {o.object_id: o for o in world.objects}

    # -- names --------------------------------------------------------------------------------------------
    def canon(self, class_name: str) -> str:
        c = self._canon_cache.get(class_name)
        if c is None:
            c = self._canon_cache[class_name] = self._canonical(class_name)
        return c

    def colliding_classes(self) -> set:
        """Simulator classes whose canonical name is shared with another simulator class (e.g. cup and
        mug both canonicalise to mug): questions about them would be ill-posed, so none are asked."""
        by: Dict[str, set] = defaultdict(set)
        names = {o.class_name for o in self.world.objects} | {f.class_name for f in self.world.furniture}
        for n in names:
            by[self.canon(n)].add(n)
        return {n for group in by.values() if len(group) > 1 for n in group}

    def canon_room(self, room_id: int) -> str:
        """The vocabulary's room label of a room ("kids_room" -> "kids room")."""
        return self.room_type[room_id].replace("_", " ")

    def unique_room_types(self) -> List[int]:
        """Room ids whose type occurs once in the home (so "the bedroom" names one room)."""
        counts: Dict[str, int] = defaultdict(int)
        for r in self.world.rooms:
            counts[r.room_type] += 1
        return [r.room_id for r in self.world.rooms if counts[r.room_type] == 1]

    def unique_furniture(self) -> List[str]:
        """Receptacle ids whose class occurs once in the home (so "the counter" names one piece)."""
        counts: Dict[str, int] = defaultdict(int)
        for f in self.world.furniture:
            counts[self.canon(f.class_name)] += 1
        return [f.furniture_id for f in self.world.furniture if f.receptacle and counts[self.canon(f.class_name)] == 1]

    # -- states -------------------------------------------------------------------------------------------
    def state(self, object_id: str, t_ns: int) -> ObjectState:
        return self.log.object_state(object_id, t_ns)

    def room_of(self, object_id: str, t_ns: int) -> int:
        s = self.state(object_id, t_ns)
        return s.room_id if s.present else -1

    def present_objects(self, t_ns: int) -> List[str]:
        return [oid for oid, s in self.log.object_states(t_ns).items() if s.present and oid in self.objects]

    def objects_in_room(self, room_id: int, t_ns: int) -> List[str]:
        return [oid for oid, s in self.log.object_states(t_ns).items()
                if s.present and s.room_id == room_id and oid in self.objects]

    def objects_on(self, furniture_id: str, t_ns: int) -> List[str]:
        return [oid for oid, s in self.log.object_states(t_ns).items()
                if s.present and s.furniture_id == furniture_id and oid in self.objects]

    def count_class(self, class_name: str, t_ns: int, room_id: Optional[int] = None,
                    furniture_id: Optional[str] = None) -> int:
        """Objects whose canonical class equals ``class_name``'s, in a room / on a piece of furniture."""
        c = self.canon(class_name)
        n = 0
        for oid, s in self.log.object_states(t_ns).items():
            o = self.objects.get(oid)
            if o is None or not s.present or self.canon(o.class_name) != c:
                continue
            if room_id is not None and s.room_id != room_id:
                continue
            if furniture_id is not None and s.furniture_id != furniture_id:
                continue
            n += 1
        return n

    def constant_over(self, fn, start_ns: int, end_ns: int, step_ns: int = 600 * NS_PER_S):
        """fn(t) if it has one value over [start, end] (checked at every state change and every step),
        else None."""
        times = set(range(int(start_ns), int(end_ns) + 1, int(step_ns)))
        times.add(int(end_ns))
        for s in self.log.changes(start_ns, end_ns + 1):
            times.add(s.t_ns)
        vals = {self._freeze(fn(t)) for t in sorted(times)}
        return next(iter(vals)) if len(vals) == 1 else None

    @staticmethod
    def _freeze(v):
        return tuple(v) if isinstance(v, list) else v

    def arrival_ns(self, object_id: str, t_ns: int) -> int:
        """When the object's current stay (same furniture and position) began."""
        return self.state(object_id, t_ns).t_ns

    def moved_between(self, object_id: str, start_ns: int, end_ns: int, min_dist_m: float) -> Tuple[bool, bool]:
        """(moved at any time in (start, end], displaced at end vs start) -- displacement > min_dist_m,
        another receptacle, or appearing/disappearing."""
        a = self.state(object_id, start_ns)
        any_move = False
        prev = a
        for s in self.log.object_history(object_id, start_ns, end_ns + 1):
            if s.t_ns <= start_ns:
                continue
            if self._differs(prev, s, min_dist_m):
                any_move = True
            prev = s
        b = self.state(object_id, end_ns)
        return any_move, self._differs(a, b, min_dist_m)

    @staticmethod
    def _differs(a: ObjectState, b: ObjectState, min_dist_m: float) -> bool:
        if a.present != b.present:
            return True
        if not a.present:
            return False
        if a.furniture_id != b.furniture_id:
            return True
        return float(np.hypot(a.position_m[0] - b.position_m[0], a.position_m[1] - b.position_m[1])) > min_dist_m

    def room_shares(self, object_id: str, start_ns: int, end_ns: int) -> Dict[int, float]:
        """Share of [start, end] the object spent in each room (absent time not counted)."""
        out: Dict[int, float] = defaultdict(float)
        hist = self.log.object_history(object_id, start_ns, end_ns)
        for i, s in enumerate(hist):
            a = max(s.t_ns, start_ns)
            b = hist[i + 1].t_ns if i + 1 < len(hist) else end_ns
            if b > a and s.present:
                out[s.room_id] += b - a
        tot = sum(out.values())
        return {k: v / tot for k, v in out.items()} if tot > 0 else {}

    def next_entry(self, object_id: str, room_id: int, after_ns: int, horizon_ns: int) -> Optional[int]:
        """First time in (after, after + horizon] the object enters ``room_id`` (None if it does not)."""
        for s in self.log.object_history(object_id, after_ns, after_ns + horizon_ns + 1):
            if s.t_ns > after_ns and s.present and s.room_id == room_id:
                return s.t_ns
        return None

    def next_disappearance(self, object_id: str, after_ns: int, horizon_ns: int) -> Optional[int]:
        for s in self.log.object_history(object_id, after_ns, after_ns + horizon_ns + 1):
            if s.t_ns > after_ns and not s.present:
                return s.t_ns
        return None

    # -- robot-centric ------------------------------------------------------------------------------------
    def last_seen(self, entity_id: str, before_ns: int) -> Optional[int]:
        st = self.seen.get(entity_id, [])
        i = bisect.bisect_right(st, before_ns) - 1
        return st[i] if i >= 0 else None

    def first_seen_after(self, entity_id: str, after_ns: int, before_ns: int) -> Optional[int]:
        st = self.seen.get(entity_id, [])
        i = bisect.bisect_left(st, after_ns)
        return st[i] if i < len(st) and st[i] <= before_ns else None

    def seen_in_room_on_day(self, object_id: str, room_id: int, day: int) -> bool:
        a, b = self.calendar.day_start_ns(day), self.calendar.day_start_ns(day + 1)
        st = self.seen.get(object_id, [])
        for t in st[bisect.bisect_left(st, a):bisect.bisect_left(st, b)]:
            if self.room_of(object_id, t) == room_id:
                return True
        return False


def day_part_window(calendar: Calendar, day: int, part: str) -> Tuple[int, int]:
    """[start, end] ns of a day part (the planner's default calendar: morning 5-12, afternoon 12-18,
    evening 18-24)."""
    hours = {"morning": (5.0, 12.0), "afternoon": (12.0, 18.0), "evening": (18.0, 24.0)}[part]
    return (calendar.stamp_ns(day, hours[0] * 3600.0), calendar.stamp_ns(day, hours[1] * 3600.0) - 1)


def merge_seen(items: Iterable[Tuple[str, int]]) -> Dict[str, List[int]]:
    out: Dict[str, List[int]] = defaultdict(list)
    for eid, t in items:
        out[eid].append(int(t))
    return {k: sorted(v) for k, v in out.items()}


def describe_rooms(world: World, room_ids: Sequence[int]) -> List[str]:
    return [world.room(r).room_type for r in room_ids]
