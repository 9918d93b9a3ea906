"""The agents, all on the same episodes (same memory snapshot, same frozen world, same start pose):

- ``memory_only``: the planner with budget 0 (answers from memory, never moves).
- ``latest_map``: the planner with budget 0 and the last observation taken at face value: no staleness
  model, no absence records, no habit prior (``belief.use_staleness/use_absences/use_habits = false``).
- ``voi``: the planner (ours), answering by value of information within ``agents.budget_m``. It keeps what
  its looks verified (its online P(still there) and answer-confidence maps) from one question to the next
  within a home, as a robot at work would, and starts afresh in each home.
- ``explore_only``: ignores memory (knows the floor plan and room types only); parses with the planner's
  parser, then searches viewpoints nearest first until it finds what the question needs or runs out of
  budget; questions about the past it cannot answer (NOT_SURE).
- ``oracle``: knows the truth; its path is the shortest one that verifies it (present-state questions:
  a greedy tour over the nearest viewpoints from which each thing to verify is truly in view; the rest: 0).
"""
from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import List, Optional, Sequence, Tuple

import numpy as np

from memory_nodes.planner import query as Q
from memory_nodes.planner.answer import Answer
from memory_nodes.planner.calibration import OnlinePlatt
from memory_nodes.planner.config import PlannerConfig
from memory_nodes.planner.context import color_name
from memory_nodes.planner.planner import Planner

from .harness import HomeContext
from .questions import Question
from .score import ANSWERED, CANNOT_PARSE, NOT_SURE, Reply, parse_matches

AGENTS = ("memory_only", "explore_only", "latest_map", "voi", "oracle")
_COLORS = ("red", "green", "blue", "yellow", "white", "black", "grey", "gray", "orange", "purple", "pink", "brown",
           "silver")


def reply_from_answer(a: Answer, wall_s: float) -> Reply:
    items = list(a.items)
    text = a.best_guess or a.answer
    has_guess = a.status != CANNOT_PARSE and bool(a.best_guess)
    return Reply(status=a.status, query_kind=a.query_kind,
                 probability=float(a.probability) if has_guess else None,
                 raw_probability=float(a.raw_probability) if has_guess else None,
                 position_m=None if a.position_m is None else np.asarray(a.position_m, float), room_label=a.room_label,
                 yes_no=a.yes_no, count=a.count, time_ns=int(a.time_ns or 0), items=items, text=text,
                 path_m=float(a.path_m), looks=int(a.looks), memory_reads=int(a.memory_reads), wall_s=wall_s,
                 error=a.error)


class PlannerAgent:
    """memory_only / latest_map / voi: the planner over an overlay of the home's memory."""

    def __init__(self, name: str, config: PlannerConfig, vocab, budget_m: float, calibrator=None):
        self.name = name
        self.budget_m = budget_m
        self.planner = Planner(config, None, None, vocab, calibrator)
        self._home = None

    def answer(self, q: Question, hc: HomeContext, seed: int) -> Reply:
        if hc.home.seed != self._home:       # another home is another robot: what its looks taught is its own
            self._home = hc.home.seed
            self.planner.stay_map, self.planner.answer_map = OnlinePlatt(), OnlinePlatt()
        overlay = hc.memory.fork()
        nav = hc.navigator(q.ask_ns, overlay, seed) if self.budget_m > 0 else None
        t0 = time.perf_counter()
        a = self.planner.answer(q.text, q.ask_ns, budget_m=self.budget_m, memory=overlay, navigator=nav)
        wall = time.perf_counter() - t0
        r = reply_from_answer(a, wall)
        if nav is not None:
            r.path_m = nav.driven_m
        r.parse_ok = parse_matches(a.query, q.expected, hc.home.truth.canon)
        r.parse_confidence = None if a.query is None else float(a.query.confidence)
        return r


def planner_variant(base: PlannerConfig, name: str) -> PlannerConfig:
    cfg = PlannerConfig(**{k: replace(getattr(base, k)) for k in base.__dataclass_fields__})
    if name == "latest_map":
        cfg.belief.use_staleness = False
        cfg.belief.use_absences = False
        cfg.belief.use_habits = False
    return cfg


# ----------------------------------------------------------------------------------------------------
# explore-only
# ----------------------------------------------------------------------------------------------------
class ExploreOnlyAgent:
    """Ignores memory. Parses with the planner's parser, then looks from viewpoints nearest first."""

    name = "explore_only"

    def __init__(self, parser_planner: Planner, budget_m: float, found_probability: float = 0.9,
                 exhaustive_probability: float = 0.7):
        self.parser = parser_planner
        self.budget_m = budget_m
        self.p_found = found_probability
        self.p_exhaustive = exhaustive_probability

    def answer(self, q: Question, hc: HomeContext, seed: int) -> Reply:
        t0 = time.perf_counter()
        query = self.parser.parse(q.text, q.ask_ns)
        r = self._answer(query, q, hc, seed)
        r.wall_s = time.perf_counter() - t0
        r.parse_ok = parse_matches(query, q.expected, hc.home.truth.canon)
        r.query_kind = query.kind
        return r

    def _answer(self, query, q: Question, hc: HomeContext, seed: int) -> Reply:
        if not query.ok:
            return Reply(CANNOT_PARSE)
        k = query.kind
        present = query.tense in (Q.PRESENT,) and k in (Q.WHERE_NOW, Q.EXISTS, Q.COUNT, Q.WHAT_ON, Q.ATTRIBUTE)
        if not present:
            return Reply(NOT_SURE)                  # the past is not observable now, and it keeps no memory
        world = hc.home.sim.world
        canon = hc.home.truth.canon
        nav = hc.navigator(q.ask_ns, None, seed, with_views=False)
        rooms = [r.room_id for r in world.rooms]
        if query.room:
            rooms = [r.room_id for r in world.rooms if r.room_type.replace("_", " ") == query.room]
        vps = [(x, y, rid) for rid in rooms for x, y in hc.viewpoints(rid)]
        target = canon(query.target) if query.target else ""
        rec = canon(query.receptacle) if query.receptacle else ""
        detections: List[Tuple[str, np.ndarray, Tuple[float, float, float]]] = []
        remaining = list(vps)

        def is_target(c: str, rgb) -> bool:
            if c != target:
                return False
            if query.color and k != Q.ATTRIBUTE:
                return color_name(rgb)[0] == query.color
            return True

        def found() -> Optional[int]:
            if k in (Q.WHERE_NOW, Q.ATTRIBUTE):
                for i, (c, _p, rgb) in enumerate(detections):
                    if is_target(c, rgb):
                        return i
            if k == Q.EXISTS:
                for i, (c, p, rgb) in enumerate(detections):
                    if is_target(c, rgb) and (not rec or self._on(p, rec, detections, canon)):
                        return i
            if k == Q.WHAT_ON:
                for i, (c, _p, _rgb) in enumerate(detections):
                    if c == rec:
                        return i
            return None

        hit = None
        while remaining:
            here = nav.current_pose()
            field = hc.home.sim.planner.distance_field((here[0], here[1]))
            costs = [self._cost(hc, field, v) for v in remaining]
            j = int(np.argmin(costs))
            if not math.isfinite(costs[j]) or nav.driven_m + costs[j] > self.budget_m:
                break
            x, y, _ = remaining.pop(j)
            nav.go_to((x, y, here[2]))
            look = nav.look()
            for o in look.observations:
                detections.append((canon(o.class_name), np.asarray(o.centroid_m), tuple(o.color_rgb)))
            hit = found()
            if hit is not None and k in (Q.WHERE_NOW, Q.ATTRIBUTE, Q.EXISTS):
                break
        r = Reply(NOT_SURE, path_m=nav.driven_m, looks=nav.looks)
        exhaustive = not remaining
        if k == Q.WHERE_NOW:
            if hit is not None:
                r = replace(r, status=ANSWERED, position_m=detections[hit][1], probability=self.p_found)
        elif k == Q.ATTRIBUTE:
            if hit is not None:
                c = color_name(detections[hit][2])[0]
                r = replace(r, status=ANSWERED, items=[c], text=c, probability=self.p_found)
        elif k == Q.EXISTS:
            if hit is not None:
                r = replace(r, status=ANSWERED, yes_no=True, probability=self.p_found)
            elif exhaustive:
                r = replace(r, status=ANSWERED, yes_no=False, probability=self.p_exhaustive)
        elif k == Q.COUNT:
            if exhaustive:
                pts = [p for c, p, rgb in detections
                       if is_target(c, rgb) and (not rec or self._on(p, rec, detections, canon))]
                r = replace(r, status=ANSWERED, count=_distinct(pts), probability=self.p_exhaustive)
        elif k == Q.WHAT_ON:
            if hit is not None:
                rp = detections[hit][1]
                items = sorted({c for c, p, _ in detections if c != rec and _near_xy(p, rp, 0.9) and p[2] > 0.1})
                r = replace(r, status=ANSWERED, items=items, probability=self.p_exhaustive)
        r.path_m = nav.driven_m
        r.looks = nav.looks
        return r

    @staticmethod
    def _cost(hc: HomeContext, field: np.ndarray, v) -> float:
        q = hc.home.sim.planner.nearest_free(v[0], v[1], max_dist_m=0.5)
        if q is None:
            return math.inf
        r, c = hc.home.sim.planner.cspace.cell_of(*q)
        return float(field[r, c])

    @staticmethod
    def _on(p: np.ndarray, rec: str, detections, canon) -> bool:
        return any(c == rec and _near_xy(p, rp, 0.9) for c, rp, _ in detections)


def _near_xy(a: np.ndarray, b: np.ndarray, r: float) -> bool:
    return float(np.hypot(a[0] - b[0], a[1] - b[1])) <= r


def _distinct(points: Sequence[np.ndarray], radius_m: float = 0.3) -> int:
    centres: List[np.ndarray] = []
    for p in points:
        if all(float(np.linalg.norm(p - c)) > radius_m for c in centres):
            centres.append(p)
    return len(centres)


# ----------------------------------------------------------------------------------------------------
# oracle
# ----------------------------------------------------------------------------------------------------
class OracleAgent:
    """Knows the truth; its path is the shortest one that verifies it."""

    name = "oracle"

    def answer(self, q: Question, hc: HomeContext, seed: int) -> Reply:
        t0 = time.perf_counter()
        tr = q.truth
        world = hc.home.sim.world
        r = Reply(ANSWERED, probability=1.0)
        if tr.answer_type == "cannot_parse":
            r.status = CANNOT_PARSE
            r.probability = None
        elif tr.answer_type == "room":
            room = world.room(int(tr.value))
            r.position_m = np.array([room.center_xy_m[0], room.center_xy_m[1], 0.0])
            r.room_label = room.room_type
        elif tr.answer_type == "yes_no":
            r.yes_no = bool(tr.value)
        elif tr.answer_type == "count":
            r.count = int(tr.value)
        elif tr.answer_type == "time":
            r.time_ns = int(tr.value)
        elif tr.answer_type in ("color", "class"):
            r.text = str(tr.value)
            r.items = [str(tr.value)]
        elif tr.answer_type == "set":
            r.items = list(tr.value)
        if q.present_state:
            r.path_m = hc.verify_path_m(q.ask_ns, tr.verify_entities, tr.verify_rooms)
        r.wall_s = time.perf_counter() - t0
        return r
