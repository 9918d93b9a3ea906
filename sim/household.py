"""People living in the home: routines move objects in bursts at times of day, with per-object habits.

Each day is simulated from the state at its start and a numpy Generator seeded from (world seed, day), so
a day can be (re)simulated alone from a stored log and the result is identical to simulating from day 0.
Routines (catalog.ROUTINES) fire with a probability per weekday/weekend inside a time window; each moves
some objects of its classes to target receptacles, optionally returning them later (dishes to the sink,
the laptop back to the desk). Tidying puts off-home objects back to their habitual place; consumables are
used up and restocked on shopping days; new items appear on their day; chairs drift.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import catalog
from .calendar import NS_PER_S, Calendar
from .config import HouseholdConfig
from .ground_truth import FurniturePose, GroundTruthLog, ObjectState
from .world import Furniture, ObjectSpec, World

_GT_SEED_TAG = 0x5EED


@dataclass
class _Placed:
    object_id: str
    furniture_id: str
    surface: int
    x: float
    y: float
    ex: float                              # half extents of the axis-aligned footprint
    ey: float


class Household:
    """Simulates days of household activity on ``world`` and records them in a GroundTruthLog."""

    def __init__(self, world: World, config: HouseholdConfig, calendar: Optional[Calendar] = None):
        self.world = world
        self.cfg = config
        self.calendar = calendar or Calendar(config.start_date)
        self._room_type = {r.room_id: r.room_type for r in world.rooms}
        self._by_class: Dict[str, List[Furniture]] = {}
        for f in world.receptacles():
            self._by_class.setdefault(f.class_name, []).append(f)

    # -- log creation -----------------------------------------------------------------------------------------
    def new_log(self) -> GroundTruthLog:
        """A log holding the header and the initial state at day 0, 00:00."""
        w = self.world
        log = GroundTruthLog({
            "seed": w.seed, "world_hash": w.hash(), "start_date": self.cfg.start_date,
            "start_ns": self.calendar.start_ns, "days_simulated": 0, "world": w.to_dict(),
            "household": {"activity_scale": self.cfg.activity_scale, "chair_drift_m": self.cfg.chair_drift_m},
        })
        rng = np.random.default_rng([w.seed, _GT_SEED_TAG, 0xFFFF])
        t0 = self.calendar.day_start_ns(0)
        placed: List[_Placed] = []
        for o in w.objects:
            if o.appear_day > 0:
                continue
            target = self._furn(o.home_furniture_id)
            if not o.habitual:        # toys start scattered
                target = self._resolve(rng, o, (("play", "play_mat"), ("play", "sofa"), ("home", "")),
                                       self._play_room(rng)) or target
            st = self._place(rng, o, [target] + self._fallbacks(o), placed, t0, "initial")
            if st is None:
                st = self._place(rng, o, self.world.receptacles(), placed, t0, "initial")
            if st is not None:
                placed.append(self._placed(st))
                log.add_object_state(st)
        for f in w.furniture:
            if f.drifts:
                log.add_furniture_pose(FurniturePose(t0, f.furniture_id, f.center_xy_m[0], f.center_xy_m[1],
                                                     f.yaw_rad, "initial"))
        return log

    def extend(self, log: GroundTruthLog, num_days: int) -> GroundTruthLog:
        """Simulate days log.days_simulated .. num_days-1 into ``log`` (in place); returns it."""
        for day in range(log.days_simulated, num_days):
            self.simulate_day(log, day)
            log.days_simulated = day + 1
        return log

    # -- one day ----------------------------------------------------------------------------------------------
    def simulate_day(self, log: GroundTruthLog, day: int) -> None:
        w, cal = self.world, self.calendar
        rng = np.random.default_rng([w.seed, _GT_SEED_TAG, day])
        start, end = cal.day_start_ns(day), cal.day_start_ns(day + 1)
        log.truncate_after(start)
        cur: Dict[str, ObjectState] = {}
        for o in w.objects:
            try:
                cur[o.object_id] = log.object_state(o.object_id, start)
            except Exception:   # not yet in the log (appears later)
                cur[o.object_id] = ObjectState(start, o.object_id, False, "", -1, -1, (0.0, 0.0, 0.0), 0.0,
                                               "not_yet")
        placed = [self._placed(s) for s in cur.values() if s.present]
        weekend = cal.is_weekend(day)
        weekday = cal.weekday(day)
        play_room = self._play_room(rng)
        heap: List[Tuple[int, int, str, tuple]] = []
        seq = [0]

        def push(t_ns: int, kind: str, payload: tuple) -> None:
            if start < t_ns < end:
                heapq.heappush(heap, (int(t_ns), seq[0], kind, payload))
                seq[0] += 1

        for routine in catalog.ROUTINES:
            window = routine.weekend_window_s if weekend else routine.weekday_window_s
            p = routine.p_weekend if weekend else routine.p_weekday
            if routine.kind == "restock" and weekday == 2:       # small mid-week grocery run
                window, p = (17.5 * 3600.0, 18.5 * 3600.0), 0.6
            draw = rng.random()
            t_start = rng.uniform(window[0], max(window[0], window[1]))
            if window[1] <= 0 or draw >= p:
                continue
            push(start + int(t_start * NS_PER_S), "routine", (routine.name,))
        for o in w.objects:
            if o.appear_day == day and day > 0:
                push(start + int(rng.uniform(16.0, 19.0) * 3600 * NS_PER_S), "appear", (o.object_id,))

        routines = {r.name: r for r in catalog.ROUTINES}
        while heap:
            t, _, kind, payload = heapq.heappop(heap)
            if kind == "routine":
                r = routines[payload[0]]
                self._expand(rng, r, t, cur, push)
                continue
            if kind == "chair":
                f = self._furn(payload[0])
                d = self.cfg.chair_drift_m
                lx, ly = rng.uniform(-d, d), rng.uniform(-d, 0.0)   # sideways, or back from its table
                c, s = math.cos(f.yaw_rad), math.sin(f.yaw_rad)
                x = f.center_xy_m[0] + c * lx - s * ly
                y = f.center_xy_m[1] + s * lx + c * ly
                yaw = f.yaw_rad + rng.uniform(-0.15, 0.15)
                log.add_furniture_pose(FurniturePose(t, f.furniture_id, float(x), float(y), float(yaw), "chairs"))
                continue
            oid = payload[0]
            o = w.object_by_id(oid)
            st = cur[oid]
            new: Optional[ObjectState] = None
            if kind == "move":
                _, targets, ret_after_s, ret_to, cause = payload
                if not st.present:
                    continue
                cands = self._candidates(rng, o, targets, play_room)
                if cause.endswith("_return") or cause == "tidy":
                    home = self._furn(o.home_furniture_id)
                    cands += [home] if home not in cands else []
                cands = [f for f in cands if f.furniture_id != st.furniture_id]
                if not cands:
                    continue
                others = [p for p in placed if p.object_id != oid]
                new = self._place(rng, o, cands, others, t, cause)
                if new is not None and ret_after_s > 0:
                    back = t + int(ret_after_s * rng.uniform(0.75, 1.25) * NS_PER_S)
                    push(back, "move", (oid, ret_to, 0.0, (), cause + "_return"))
            elif kind == "remove":
                if st.present:
                    new = ObjectState(t, oid, False, "", -1, -1, (0.0, 0.0, 0.0), 0.0, payload[1])
            elif kind in ("restock", "appear"):
                if not st.present:
                    others = [p for p in placed if p.object_id != oid]
                    new = self._place(rng, o, [self._furn(o.home_furniture_id)] + self._fallbacks(o), others,
                                      t, "restocked" if kind == "restock" else "new_item")
            if new is None:
                continue
            cur[oid] = new
            placed = [p for p in placed if p.object_id != oid]
            if new.present:
                placed.append(self._placed(new))
            log.add_object_state(new)

    # -- helpers ----------------------------------------------------------------------------------------------
    def _expand(self, rng, r: catalog.Routine, t: int, cur: Dict[str, ObjectState], push) -> None:
        w = self.world
        spread_ns = int(r.spread_s * NS_PER_S)

        def when() -> int:
            return t + int(rng.uniform(0, 1) * spread_ns)

        scale = self.cfg.activity_scale
        if r.kind == "move":
            for mv in r.moves:
                for o in w.objects:
                    if o.class_name in mv.classes and cur[o.object_id].present and rng.random() < mv.p * scale:
                        push(when(), "move", (o.object_id, mv.targets, mv.return_after_s, mv.return_to, r.name))
        elif r.kind == "tidy":
            for o in w.objects:
                st = cur[o.object_id]
                if not st.present or st.furniture_id == o.home_furniture_id:
                    continue
                p = catalog.P_TIDY_RETURN if o.habitual else catalog.P_TIDY_RETURN_NON_HABITUAL
                if rng.random() < p:
                    push(when(), "move", (o.object_id, (("home", ""),), 0.0, (), "tidy"))
        elif r.kind == "consume":
            for o in w.objects:
                if o.consumable and cur[o.object_id].present and rng.random() < catalog.P_CONSUME * scale:
                    push(when(), "remove", (o.object_id, "consumed"))
        elif r.kind == "restock":
            for o in w.objects:
                if o.consumable and not cur[o.object_id].present and o.appear_day <= self.calendar.day_of(t):
                    push(when(), "restock", (o.object_id,))
        elif r.kind == "chairs":
            for f in w.furniture:
                if f.drifts and rng.random() < 0.7:
                    push(when(), "chair", (f.furniture_id,))

    def _placed(self, s: ObjectState) -> _Placed:
        ex, ey = self.world.object_by_id(s.object_id).half_extents_xy_m(s.yaw_rad)
        return _Placed(s.object_id, s.furniture_id, s.surface_index, s.position_m[0], s.position_m[1], ex, ey)

    def _furn(self, fid: str) -> Furniture:
        return self.world.furniture_by_id(fid)

    def _play_room(self, rng) -> int:
        kids = [r.room_id for r in self.world.rooms if r.room_type == "kids_room"]
        living = [r.room_id for r in self.world.rooms if r.room_type == "living_room"]
        u = rng.random()
        if kids and (u < 0.6 or not living):
            return kids[int(rng.integers(len(kids)))]
        if living:
            return living[int(rng.integers(len(living)))]
        return int(rng.integers(len(self.world.rooms)))

    def _candidates(self, rng, o: ObjectSpec, targets: Sequence[Tuple[str, str]], play_room: int
                    ) -> List[Furniture]:
        """Receptacles for a move, in the order to try: one target entry drawn at random first."""
        order = list(range(len(targets)))
        if len(order) > 1:
            first = int(rng.integers(len(order)))
            order = [first] + [i for i in order if i != first]
        out: List[Furniture] = []
        for i in order:
            rt, fcls = targets[i]
            if rt == "home":
                cands = [self._furn(o.home_furniture_id)]
            elif rt == "play":
                cands = [f for f in self._by_class.get(fcls, []) if f.room_id == play_room]
            else:
                cands = [f for f in self._by_class.get(fcls, []) if self._room_type[f.room_id] == rt]
            if len(cands) > 1:
                cands = [cands[j] for j in rng.permutation(len(cands))]
            out += [f for f in cands if f not in out]
        return out

    def _resolve(self, rng, o: ObjectSpec, targets, play_room: int) -> Optional[Furniture]:
        c = self._candidates(rng, o, targets, play_room)
        return c[0] if c else None

    def _fallbacks(self, o: ObjectSpec) -> List[Furniture]:
        """Other receptacles of the home's class, then of the object's other home classes."""
        home = self._furn(o.home_furniture_id)
        out = [f for f in self._by_class.get(home.class_name, []) if f is not home]
        for _, fcls in catalog.OBJECT_CLASSES[o.class_name].homes:
            out += [f for f in self._by_class.get(fcls, []) if f is not home and f not in out]
        return out

    def _place(self, rng, o: ObjectSpec, receptacles: Sequence[Furniture], placed: List[_Placed], t_ns: int,
               cause: str) -> Optional[ObjectState]:
        """A free resting pose on the first receptacle with room; None if none has. Objects are set down
        roughly square to the furniture (yaw a multiple of pi/2 plus a little), footprints do not overlap."""
        h = o.size_m[2]
        for f in receptacles:
            surfaces = [i for i, s in enumerate(f.surfaces) if s.clearance_m >= h + 0.01]
            if len(surfaces) > 1:
                surfaces = [surfaces[j] for j in rng.permutation(len(surfaces))]
            for si in surfaces:
                s = f.surfaces[si]
                here = [p for p in placed if p.furniture_id == f.furniture_id and p.surface == si]
                for _ in range(25):
                    yaw = f.yaw_rad + 0.5 * math.pi * int(rng.integers(4)) + rng.uniform(-0.25, 0.25)
                    yaw = math.atan2(math.sin(yaw), math.cos(yaw))
                    ex, ey = o.half_extents_xy_m(yaw)
                    if s.max_xy_m[0] - s.min_xy_m[0] <= 2 * ex or s.max_xy_m[1] - s.min_xy_m[1] <= 2 * ey:
                        continue
                    x = rng.uniform(s.min_xy_m[0] + ex, s.max_xy_m[0] - ex)
                    y = rng.uniform(s.min_xy_m[1] + ey, s.max_xy_m[1] - ey)
                    if all(abs(x - p.x) >= ex + p.ex + 0.01 or abs(y - p.y) >= ey + p.ey + 0.01 for p in here):
                        z = s.z_m + h / 2
                        return ObjectState(int(t_ns), o.object_id, True, f.furniture_id, si, f.room_id,
                                           (float(x), float(y), float(z)), float(yaw), cause)
        return None


def simulate(world: World, config: HouseholdConfig, num_days: int,
             log: Optional[GroundTruthLog] = None) -> GroundTruthLog:
    """Ground truth for days [0, num_days): continues ``log`` if given (e.g. loaded from disk)."""
    hh = Household(world, config)
    if log is None:
        log = hh.new_log()
    return hh.extend(log, num_days)
