"""The planner: parse a question, build a belief from memory, and answer by value of information.

    planner = Planner(PlannerConfig(), memory_view, navigator, vocab)
    answer = planner.answer("where is my mug?", now_ns=t, budget_m=20.0)

Present-tense questions with budget_m > 0 may move the robot: at each step, for every candidate viewpoint
v (the current pose and the memory's places),

    VOI(v) = E_obs at v [max_a EU(a | belief updated by obs)] - max_a EU(a | belief) - lambda * path_m(v)
             - look_cost

with utility +1 correct / -c_wrong wrong / 0 NOT_SURE, observation likelihoods from the detector's miss
and false-positive rates and the visibility of each hypothesis from v. The robot goes to the argmax,
looks (Navigator.look), applies what it saw to the belief (Bayes), and repeats; it stops when the best
VOI <= 0, no viewpoint fits the remaining budget, max_looks is reached, or ``should_stop()`` (cancel /
time-out, owned by the caller: the core never reads a clock) returns True. Past-tense, habit and
forecast questions are answered from stored observations only and never move the robot; so are questions
about the robot's own travel (planner/robot.py, from memory's pose trail).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..common.errors import MemoryStackError
from ..common.protocols import Evidence, LookResult, MemoryView, Navigator, PlaceInfo, stack_evidence
from ..common.visibility import NO_DEPTH, VISIBLE, camera_depth_m, visibility
from . import query as Q
from . import recall, robot
from .answer import (
    ANSWERED,
    CANNOT_PARSE,
    NOT_SURE,
    STOP_BUDGET,
    STOP_CANCELLED,
    STOP_MAX_LOOKS,
    STOP_MEMORY_ONLY,
    STOP_NAV_FAILED,
    STOP_NO_VALUE,
    STOP_PAST,
    Answer,
    Candidate,
)
from .belief import Hyp, LocationBelief, best_eu
from .calibration import Calibrator, OnlinePlatt
from .config import PlannerConfig
from .context import NS_PER_DAY, CountingMemory, Ctx, Decision, Option
from .parse import QuestionParser
from .present import location_belief, location_options, location_reason, moved_belief, slot_belief, slot_options
from .query import Query, TimeWindow

Pose = Tuple[float, float, float]
EXPLORABLE = (Q.WHERE_NOW, Q.DID_MOVE, Q.EXISTS, Q.COUNT, Q.WHAT_ON)


def _as_pose(p: Sequence[float]) -> Pose:
    """A navigator's (x, y, yaw) as a 3-tuple (what tuple(p) gave for the protocol's 3-element poses)."""
    return p[0], p[1], p[2]


@dataclass
class Feedback:
    """Progress while answering (the AskActive action's feedback)."""
    phase: str                           # "recall" | "navigating" | "looking" | "deciding"
    top_answers: List[Candidate] = field(default_factory=list)
    target_place_id: int = -1
    target_text: str = ""
    distance_travelled_m: float = 0.0


@dataclass
class Viewpoint:
    pose: Pose
    place_id: int                        # -1 = the current pose
    room_id: int
    path_m: float = 0.0
    voi: float = -math.inf
    gain: float = 0.0

    @property
    def drives(self) -> bool:
        """Whether looking from here needs a drive (a place, not the current pose)."""
        return self.place_id >= 0


class Planner:
    """Answers questions over a MemoryView, moving through a Navigator when information is worth it."""

    def __init__(self, config: Optional[PlannerConfig] = None, memory: Optional[MemoryView] = None,
                 navigator: Optional[Navigator] = None, vocab=None, calibrator: Optional[Calibrator] = None,
                 chat=None):
        self.config = config or PlannerConfig()
        self.config.validate()
        self.memory = memory
        self.navigator = navigator
        self.vocab = vocab
        self.calibrator = calibrator or Calibrator()
        # P(still there) as the looks verify it: every look that had a remembered sighting's spot in view
        # tests the staleness model's prediction; the map is refitted from those (the identity until then)
        self.stay_map = OnlinePlatt()
        # the stated confidence of an answer memory alone gives, refitted from the answers the planner's
        # own looks later confirmed or overturned (on top of ``calibrator``, the dev-home fit: its prior)
        self.answer_map = OnlinePlatt()
        self.parser = QuestionParser(self.config.parser, vocab)
        self.chat = chat
        if chat is None and self.config.chat.enabled:
            from .chat import ChatParser
            self.chat = ChatParser(self.config.chat, self.config.parser.calendar, vocab)

    # ----------------------------------------------------------------------------------------- parse
    def parse(self, question: str, now_ns: int, window: Optional[TimeWindow] = None) -> Query:
        if self.chat is not None:
            q = self.chat.parse(question, now_ns, window)
            if q is not None and (q.ok or not self.config.chat.fallback_to_rules):
                return q
        return self.parser.parse(question, now_ns, window)

    # ---------------------------------------------------------------------------------------- answer
    def answer(self, question: Union[str, Query], now_ns: int, budget_m: float = 0.0,
               window: Optional[TimeWindow] = None, should_stop: Optional[Callable[[], bool]] = None,
               on_feedback: Optional[Callable[[Feedback], None]] = None, memory: Optional[MemoryView] = None,
               navigator: Optional[Navigator] = None) -> Answer:
        """Answer one question asked at ``now_ns`` with at most ``budget_m`` metres of driving.

        ``memory`` / ``navigator`` override the constructor's for this question (e.g. a per-question
        overlay). ``should_stop`` is polled between steps (cancel, time-out). ``on_feedback`` receives
        progress. Raises nothing for a bad question (CANNOT_PARSE); memory errors propagate."""
        memory = memory if memory is not None else self.memory
        navigator = navigator if navigator is not None else self.navigator
        if memory is None:
            raise MemoryStackError("Planner.answer needs a MemoryView")
        q = question if isinstance(question, Query) else self.parse(question, now_ns, window)
        if not q.ok:
            return Answer(status=CANNOT_PARSE, query_kind=Q.CANNOT_PARSE, reason=q.reason, query=q,
                          stop_reason=STOP_MEMORY_ONLY)
        mem = CountingMemory(memory)
        ctx = Ctx(mem, q, now_ns, self.config, self.vocab, self.stay_map)
        run = _Run(self, ctx, navigator, budget_m, should_stop or (lambda: False), on_feedback)
        return run.go()


class _Run:
    """One question being answered (keeps the loop's state out of the Planner)."""

    def __init__(self, planner: Planner, ctx: Ctx, nav: Optional[Navigator], budget_m: float,
                 should_stop: Callable[[], bool], on_feedback):
        self.p = planner
        self.cfg = planner.config
        self.ctx = ctx
        self.q = ctx.query
        self.nav = nav
        self.budget_m = max(0.0, float(budget_m))
        self.should_stop = should_stop
        self.on_feedback = on_feedback
        self.path_m = 0.0
        self.looks = 0
        self.visited: List[int] = []
        self.visited_xy: List[Tuple[float, float]] = []
        self.look_evidence = Evidence()
        self.error = ""
        self.failed_places: set = set()

    @property
    def navigator(self) -> Navigator:
        """The navigator; only exploration uses it, and go() explores only when there is one."""
        if self.nav is None:
            raise RuntimeError("Planner: exploring needs a Navigator (go() explores only with one)")
        return self.nav

    def feedback(self, phase: str, belief=None, vp: Optional[Viewpoint] = None) -> None:
        if self.on_feedback is None:
            return
        top = []
        if belief is not None:
            top = [Candidate(o.text, o.prob, o.place_id, o.room_id, o.position_m) for o in self.options(belief)[:5]]
        target = ""
        if vp is not None:
            target = "the current pose" if not vp.drives else \
                f"place {vp.place_id} ({self.ctx.room_text(vp.room_id)})"
        self.on_feedback(Feedback(phase, top, vp.place_id if vp else -1, target, self.path_m))

    # ----------------------------------------------------------------------------------------- main
    def go(self) -> Answer:
        q = self.q
        self.feedback("recall")
        if q.kind == Q.WHAT_CHANGED and q.room and self.budget_m > 0 and self.nav is not None:
            return self.finish(*self.sweep_for_changes())
        explorable = q.kind in EXPLORABLE and q.tense in (Q.PRESENT, Q.PAST_PRESENT)
        if not explorable:
            decision = self.recall_decision()
            return self.finish(decision, STOP_PAST)
        belief, why = self.build_belief()
        if belief is None:
            return self.finish(Decision([], why), STOP_MEMORY_ONLY)
        if self.budget_m <= 0 or self.nav is None or not self.now_settles():
            stop = STOP_MEMORY_ONLY
        else:
            before = self.options(belief)
            stop = self.explore(belief)
            if self.looks:
                self.verify_answer(before, self.options(belief))
        if isinstance(belief, LocationBelief):
            why = location_reason(self.ctx, belief, why)
        decision = Decision(self.options(belief), why)
        return self.finish(decision, stop)

    def sweep_for_changes(self) -> Tuple[Decision, str]:
        """What changed in room Y since T, looking when it pays. Memory's answer is unsure mostly about what
        it has not seen in Y since it last looked there (``recall.what_changed_and_look_value``: the answer's
        probability with and without those unseen terms); a sweep of Y's places resolves them. The tour
        visits Y's places nearest first (navigator path costs) within the budget; it goes when
        best_eu(p seen) - best_eu(p now), times the share of Y's places the tour covers, beats lambda * its
        path + its looks' cost. The looks go into memory like any frame; the answer is memory's, read again,
        with what the looks saw there that memory did not hold there then (``recall.changes_seen_now``)."""
        ctx, util = self.ctx, self.cfg.utility
        decision, p_seen = recall.what_changed_and_look_value(ctx)
        if not decision.options:
            return decision, STOP_NO_VALUE
        c = util.c_wrong
        gain = best_eu(p_seen, c) - best_eu(decision.options[0].prob, c)
        rooms = set(ctx.room_ids(self.q.room))
        places = [pl for pid, pl in sorted(ctx.places.items()) if pl.room_id in rooms and pid not in self.failed_places]
        if gain <= 0 or not places:
            return decision, STOP_NO_VALUE
        remaining = self.budget_m / (1.0 + self.cfg.explore.path_margin)
        cur = _as_pose(self.navigator.current_pose())
        tour: List[Tuple[PlaceInfo, Pose]] = []
        path = 0.0
        todo = list(places)
        while todo and len(tour) < self.cfg.explore.max_looks:
            legs = [(float(self.navigator.path_cost_m(cur, (float(pl.position_m[0]), float(pl.position_m[1]), 0.0))), i)
                    for i, pl in enumerate(todo)]
            cost, i = min(legs)
            if not math.isfinite(cost) or path + cost > remaining:
                break
            pl = todo.pop(i)
            cur = (float(pl.position_m[0]), float(pl.position_m[1]), 0.0)
            tour.append((pl, cur))
            path += cost
        voi = gain * len(tour) / len(places) - util.lambda_per_m * path - util.look_cost * len(tour)
        if not tour or voi <= 0:
            return decision, STOP_BUDGET if not tour else STOP_NO_VALUE
        seen: list = []

        def answer() -> Decision:
            since = self.q.window.start_ns if self.q.window and self.q.window.start_ns is not None else ctx.now_ns
            now = recall.changes_seen_now(ctx, seen, sorted(rooms), since, self.cfg.belief.look_change_confidence)
            return recall.what_changed_and_look_value(ctx, now)[0]
        for pl, goal in tour:
            if self.should_stop():
                return answer(), STOP_CANCELLED
            self.feedback("navigating", None, Viewpoint(goal, pl.place_id, pl.room_id))
            try:
                self.path_m += max(0.0, float(self.navigator.go_to(goal)))
            except Exception as e:  # navigation failed: never try that place again, keep answering
                self.error = f"navigation to place {pl.place_id} failed: {e}"
                self.failed_places.add(pl.place_id)
                continue
            self.feedback("looking", None, Viewpoint(goal, pl.place_id, pl.room_id))
            try:
                look = self.navigator.look()
            except Exception as e:
                self.error = f"look failed: {e}"
                return answer(), STOP_NAV_FAILED
            seen += list(look.observations)
            self.looks += 1
            self.visited.append(pl.place_id)
            pose = self.navigator.current_pose()
            self.visited_xy.append((float(pose[0]), float(pose[1])))
            self.look_evidence = self.look_evidence.merged(look_evidence(look.observations, look.views))
        return answer(), STOP_NO_VALUE

    def now_settles(self) -> bool:
        """Whether a look now can settle a present-tense question: not when its time lies ahead ("tomorrow
        morning") or spans days ("over the past week"): what the camera shows now is one moment of it,
        and a drive for it costs path without settling the answer."""
        w = self.q.window
        if self.q.tense != Q.PRESENT or w is None:
            return True
        now = self.ctx.now_ns
        if w.start_ns is not None and w.start_ns > now:
            return False
        if w.start_ns is not None and (w.end_ns if w.end_ns is not None else now) - w.start_ns > NS_PER_DAY:
            return False
        return True

    def recall_decision(self) -> Decision:
        k = self.q.kind
        fn = {Q.WHERE_AT: recall.where_at, Q.LAST_SEEN: recall.last_seen, Q.SINCE_WHEN: recall.since_when,
              Q.ATTRIBUTE: recall.attribute, Q.WHERE_USUALLY: recall.where_usually, Q.WHEN_NEXT: recall.when_next,
              Q.WHICH_FIRST: recall.which_first, Q.WHAT_CHANGED: recall.what_changed, Q.WILL_BE: recall.will_be,
              Q.DAYS_SEEN: recall.days_seen,
              Q.EXISTS: recall.past_presence, Q.COUNT: recall.past_presence,
              Q.WHAT_ON: recall.past_presence, Q.WHERE_NOW: recall.where_at,
              Q.ROBOT_WHERE_AT: robot.where_at, Q.ROBOT_LAST_IN: robot.last_in, Q.ROBOT_TIME_IN: robot.time_in,
              Q.ROBOT_PASSED: robot.passed}.get(k)
        if fn is None:
            return Decision([], f"no recall for {k}")
        return fn(self.ctx)

    def build_belief(self):
        k = self.q.kind
        if k == Q.WHERE_NOW:
            return location_belief(self.ctx)
        if k == Q.DID_MOVE:
            return moved_belief(self.ctx)
        return slot_belief(self.ctx)

    def options(self, belief) -> List[Option]:
        if isinstance(belief, LocationBelief):
            return location_options(self.ctx, belief)
        return slot_options(self.ctx, belief)

    # -------------------------------------------------------------------------------------- explore
    def explore(self, belief) -> str:
        cfg = self.cfg
        while True:
            if self.should_stop():
                return STOP_CANCELLED
            if self.looks >= cfg.explore.max_looks:
                return STOP_MAX_LOOKS
            self.feedback("deciding", belief)
            vp, reason = self.best_viewpoint(belief)
            if vp is None:
                return reason
            self.feedback("navigating", belief, vp)
            try:
                if vp.drives:
                    driven = float(self.navigator.go_to(vp.pose))
                    self.path_m += max(0.0, driven)
            except Exception as e:  # navigation failed: never try that place again, keep answering
                self.error = f"navigation to place {vp.place_id} failed: {e}"
                self.failed_places.add(vp.place_id)
                if self.should_stop():
                    return STOP_CANCELLED
                continue
            if self.should_stop():
                return STOP_CANCELLED
            self.feedback("looking", belief, vp)
            try:
                look = self.navigator.look()
            except Exception as e:
                self.error = f"look failed: {e}"
                return STOP_NAV_FAILED
            self.looks += 1
            self.visited.append(vp.place_id)
            pose = self.navigator.current_pose()
            self.visited_xy.append((float(pose[0]), float(pose[1])))
            self.apply_look(belief, look, pose)

    def viewpoints(self) -> List[Viewpoint]:
        pose = self.navigator.current_pose()
        places = self.ctx.places
        here_room = -1
        if places:
            nearest = min(places.values(),
                          key=lambda p: (p.position_m[0] - pose[0]) ** 2 + (p.position_m[1] - pose[1]) ** 2)
            here_room = nearest.room_id
        revisit = self.cfg.explore.revisit

        def looked_from(x: float, y: float) -> bool:
            return not revisit and any(math.hypot(x - a, y - b) < 0.5 for a, b in self.visited_xy)
        out = [] if looked_from(pose[0], pose[1]) else [Viewpoint(_as_pose(pose), -1, here_room)]
        for pid, p in places.items():
            x, y = float(p.position_m[0]), float(p.position_m[1])
            if pid in self.failed_places or looked_from(x, y):
                continue
            out.append(Viewpoint((x, y, 0.0), pid, p.room_id))
        return out

    def hyps_of(self, belief) -> List[Hyp]:
        return belief.hyps if isinstance(belief, LocationBelief) else belief.slots

    def visibility(self, hyps: Sequence[Hyp], pose: Pose, room_id: int) -> np.ndarray:
        det = self.cfg.detector
        if not hyps:
            return np.zeros(0)
        P = np.array([h.position_m for h in hyps], dtype=float)
        fn = getattr(self.nav, "visibility", None)
        if callable(fn):
            v = np.asarray(fn(pose, np.nan_to_num(P, nan=1e9)), dtype=float)
            v = np.where(np.isnan(P[:, 0]), 0.0, v)
            return np.clip(v, 0.0, 1.0)
        d = np.hypot(P[:, 0] - pose[0], P[:, 1] - pose[1])
        v = det.visibility_max * np.exp(-0.5 * (d / det.visibility_sigma_m) ** 2)
        v = np.where(d <= det.max_range_m, v, 0.0)
        rooms = np.array([h.room_id for h in hyps])
        if room_id >= 0:
            v = np.where((rooms >= 0) & (rooms != room_id), v * det.cross_room_visibility, v)
        return np.where(np.isnan(d), 0.0, v)

    def best_viewpoint(self, belief) -> Tuple[Optional[Viewpoint], str]:
        """The next viewpoint, or None and why not. VOI(v) = gain(v) - lambda * path_m(v) - look_cost."""
        cfg = self.cfg
        util, det = cfg.utility, cfg.detector
        rate = cfg.explore.selection == "rate"
        c = util.c_wrong
        eu_now = belief.max_eu(c)
        remaining = (self.budget_m - self.path_m) / (1.0 + cfg.explore.path_margin)
        hyps = self.hyps_of(belief)
        if not hyps:
            return None, STOP_NO_VALUE
        pose = self.navigator.current_pose()
        ceiling = 1.0 - eu_now                      # no look can gain more than this
        lam = 0.0 if rate else util.lambda_per_m    # "rate" ranks without lambda
        probs = belief.p if isinstance(belief, LocationBelief) else belief.q
        uncertainty = np.minimum(probs, 1.0 - probs)
        scored = []
        any_in_budget = False
        for vp in self.viewpoints():
            euclid = math.hypot(vp.pose[0] - pose[0], vp.pose[1] - pose[1]) if vp.drives else 0.0
            if euclid > remaining:
                continue
            any_in_budget = True
            if not rate and lam * euclid + util.look_cost >= ceiling:
                continue
            vis = self.visibility(hyps, vp.pose, vp.room_id)
            if not np.any(vis >= det.min_visibility):
                continue
            proxy = float(np.sum(vis * uncertainty))
            proxy = proxy / (euclid + cfg.explore.rate_offset_m) if rate else proxy - lam * euclid
            scored.append((proxy, euclid, vp, vis))
        if not scored:
            return None, (STOP_NO_VALUE if any_in_budget else STOP_BUDGET)
        scored.sort(key=lambda x: (-x[0], x[1]))
        best: Optional[Viewpoint] = None
        best_key = -math.inf
        budget_blocked = False
        gains: Dict[int, float] = {}                # id(viewpoint) -> gain, for on_the_way
        for _proxy, euclid, vp, vis in scored[: cfg.explore.max_viewpoints]:
            gain = gains[id(vp)] = belief.expected_value_after_look(vis, det.miss_rate, det.false_positive_rate, c,
                                                                   det.min_visibility) - eu_now
            if gain <= 1e-12:
                continue
            # an optimistic key with path >= straight-line distance: skip what cannot win
            upper = gain / (euclid + cfg.explore.rate_offset_m) if rate else gain - lam * euclid - util.look_cost
            if upper <= best_key or (not rate and upper <= 0):
                continue
            path = 0.0 if not vp.drives else float(self.navigator.path_cost_m(_as_pose(pose), vp.pose))
            if not math.isfinite(path) or path > remaining:
                budget_blocked = budget_blocked or math.isfinite(path)
                continue
            vp.path_m, vp.gain = path, gain
            vp.voi = gain - util.lambda_per_m * path - util.look_cost
            key = gain / (path + cfg.explore.rate_offset_m) if rate else vp.voi
            if key > best_key:
                best, best_key = vp, key
        if (best is None or best.voi <= 0 or cfg.explore.tour_when_look_pays) and not rate and \
                cfg.explore.tour_lookahead > 0 and isinstance(belief, LocationBelief):
            tour = self.tour_first_stop(belief, pose, remaining, [x[2] for x in scored], [x[3] for x in scored])
            if tour is not None and (best is None or best.voi <= 0 or tour.voi > best.voi):
                return self.here_first(self.on_the_way(tour, belief, pose, scored, eu_now, gains), pose), ""
        if best is None:
            return None, STOP_BUDGET if budget_blocked else STOP_NO_VALUE
        if best.voi <= 0:
            return None, STOP_NO_VALUE
        return self.here_first(self.on_the_way(best, belief, pose, scored, eu_now, gains), pose), ""

    def on_the_way(self, chosen: Viewpoint, belief, pose: Pose, scored: list, eu_now: float,
                   gains: Dict[int, float]) -> Viewpoint:
        """The nearest viewpoint on the way to ``chosen`` worth a look first, else ``chosen``
        (``explore.stop_on_the_way``). A stop whose paths from here and on to ``chosen`` add at most
        ``explore.on_the_way_slack_m`` to the drive costs a look and that detour; the drive to ``chosen``
        stays open after it (information never lowers the value of the best plan), and what it sees may
        settle the question there, short of the drive. So it pays when its own gain beats the look's cost
        plus lambda times the detour; the robot looks there, then decides again."""
        ex, util, det = self.cfg.explore, self.cfg.utility, self.cfg.detector
        if not ex.stop_on_the_way or not chosen.drives or chosen.path_m <= 0:
            return chosen
        total = chosen.path_m
        best: Optional[Viewpoint] = None
        c = util.c_wrong
        for _proxy, euclid, vp, vis in sorted(scored, key=lambda x: x[1]):
            if vp is chosen or not vp.drives or euclid >= total or (best is not None and euclid >= best.path_m):
                continue
            gain = gains.get(id(vp))                # valued already by the caller
            if gain is None:
                gain = belief.expected_value_after_look(vis, det.miss_rate, det.false_positive_rate, c,
                                                       det.min_visibility) - eu_now
            if gain <= util.look_cost:
                continue
            first = float(self.navigator.path_cost_m(_as_pose(pose), vp.pose))
            if not math.isfinite(first) or first >= total or (best is not None and first >= best.path_m):
                continue
            on = float(self.navigator.path_cost_m(chosen.pose, vp.pose))
            detour = first + on - total
            if not math.isfinite(detour) or detour > ex.on_the_way_slack_m or \
                    gain - util.look_cost - util.lambda_per_m * max(0.0, detour) <= 0:
                continue
            best = Viewpoint(vp.pose, vp.place_id, vp.room_id, first, gain - util.lambda_per_m * first - util.look_cost,
                             gain)
        return chosen if best is None else best

    def here_first(self, vp: Viewpoint, pose: Pose) -> Viewpoint:
        """``vp``, or the current pose when ``vp`` needs a drive, none was made yet and no look was taken
        here (``explore.look_here_first``)."""
        x, y = float(pose[0]), float(pose[1])
        if not vp.drives or not self.cfg.explore.look_here_first or self.path_m > 0 or \
                any(math.hypot(x - a, y - b) < 0.5 for a, b in self.visited_xy):
            return vp
        room = self.nearest_place(np.asarray(pose, dtype=float))
        return Viewpoint(_as_pose(pose), -1, -1 if room is None else room.room_id, 0.0, vp.voi, vp.gain)

    def tour_first_stop(self, belief: LocationBelief, pose: Pose, remaining: float, vps: List[Viewpoint],
                        vis_rows: List[np.ndarray]) -> Optional[Viewpoint]:
        """Value of searching a short tour (stops in detection-per-metre order; answer as soon as the target
        is seen) against answering now; the tour's first stop if the best prefix is worth more."""
        cfg, util, det = self.cfg, self.cfg.utility, self.cfg.detector
        c = util.c_wrong
        eu_now = belief.max_eu(c)
        p, g = belief.p.copy(), belief.p_gone
        V = np.array(vis_rows)                               # (n_vp, n_hyp)
        D = V * (1.0 - det.miss_rate)                        # P(detect | there)
        used = np.zeros(len(vps), dtype=bool)
        here = (pose[0], pose[1])
        survive, value, spent = 1.0, 0.0, 0.0
        best_val, first = eu_now, None
        order: List[int] = []
        for _ in range(cfg.explore.tour_lookahead):
            pdet = D @ p                                     # P(found at each stop | not found so far)
            dist = np.array([math.hypot(v.pose[0] - here[0], v.pose[1] - here[1]) if v.drives else 0.0
                             for v in vps])
            ok = (~used) & (pdet > 1e-6) & (spent + dist <= remaining)
            if not ok.any():
                break
            score = np.where(ok, pdet / (dist + cfg.explore.rate_offset_m), -1.0)
            j = int(np.argmax(score))
            used[j] = True
            order.append(j)
            # found at j: the posterior is (nearly) certain of the found location
            eu_found = 1.0 - (1.0 + c) * det.false_positive_rate if pdet[j] > 0 else 0.0
            value += survive * (pdet[j] * max(0.0, eu_found) - util.lambda_per_m * dist[j] - util.look_cost)
            spent += dist[j]
            here = (vps[j].pose[0], vps[j].pose[1])
            # not found at j: Bayes update of the location belief
            miss = p * (1.0 - D[j])
            z = float(miss.sum()) + g
            if z <= 0:
                break
            survive *= (1.0 - pdet[j]) if pdet[j] < 1 else 0.0
            p, g = miss / z, g / z
            eu_rest = best_eu_of(belief, p, c)
            total = value + survive * eu_rest
            if total > best_val + 1e-9:
                best_val, first = total, order[0]
        if first is None:
            return None
        vp = vps[first]
        path = 0.0 if not vp.drives else float(self.navigator.path_cost_m(_as_pose(pose), vp.pose))
        if not math.isfinite(path) or path > remaining:
            return None
        vp.path_m, vp.gain = path, best_val - eu_now
        straight = math.hypot(vp.pose[0] - pose[0], vp.pose[1] - pose[1])
        vp.voi = best_val - eu_now - util.lambda_per_m * max(0.0, path - straight)
        return vp if vp.voi > 0 else None

    # ---------------------------------------------------------------------------------------- looks
    def actual_visibility(self, hyps: Sequence[Hyp], look: LookResult, pose: Pose) -> np.ndarray:
        """Visibility of each hypothesis in the look's views (depth-checked); the model if no depth."""
        det = self.cfg.detector
        usable = [v for v in look.views if getattr(v, "depth_m", None) is not None and np.size(v.depth_m) > 0
                  and v.map_T_camera is not None]
        nearest = self.nearest_place(np.asarray(pose, dtype=float))
        room = -1 if nearest is None else nearest.room_id
        if not usable:
            return self.visibility(hyps, pose, room)
        P = np.array([h.position_m for h in hyps], dtype=float).reshape(-1, 3)
        vis = np.zeros(len(hyps))
        flat = np.array([h.half_extent_m for h in hyps], dtype=float)
        for v in usable:
            # a pixel without depth has nothing in front of the location: it counts as seen
            state = visibility(det, v, P, flat)
            seen = (state == VISIBLE) | (state == NO_DEPTH)
            z = camera_depth_m(v, P)
            for i in np.flatnonzero(seen):
                vis[i] = max(vis[i], det.visibility_max * math.exp(-0.5 * (z[i] / det.visibility_sigma_m) ** 2))
        return vis

    def apply_look(self, belief, look: LookResult, pose: Pose) -> None:
        det = self.cfg.detector
        hyps = self.hyps_of(belief)
        vis = self.actual_visibility(hyps, look, pose)
        vis_before = vis.copy()
        detected = np.zeros(len(hyps), dtype=bool)
        relevant = self.relevant_observations(look)
        for obs in relevant:
            pos = np.asarray(obs.centroid_m, dtype=float)
            i = self.match(hyps, pos, self.ctx.canonical(obs.class_name))
            if i is None:
                i = self.add_found(belief, obs, pos)
                hyps = self.hyps_of(belief)
                vis = np.append(vis, 0.0) if len(vis) < len(hyps) else vis
                detected = np.append(detected, False) if len(detected) < len(hyps) else detected
            elif hyps[i].source == "prior":     # a guess the camera just confirmed: now an observation
                self.found_at(belief, hyps[i], pos, obs.stamp_ns)
            detected[i] = True
            vis[i] = max(vis[i], det.visibility_max)
        self.verify_stays(hyps, vis_before, detected)
        belief.update(vis, detected, det.miss_rate, det.false_positive_rate)
        self.look_evidence = self.look_evidence.merged(look_evidence(relevant, look.views))

    def verify_answer(self, before: List[Option], after: List[Option], settled: float = 0.9) -> None:
        """The answer memory alone gave (before looking) is a prediction the looks tested: when they settled
        the question (the best answer after them has P >= ``settled`` and rests on evidence), it was right
        iff they agree. Its stated confidence (calibrated) and that outcome refit ``Planner.answer_map``."""
        if not before or not after or not after[0].grounded or not before[0].grounded or \
                after[0].prob < settled:
            return
        p0 = self.p.calibrator.apply(float(min(1.0, max(0.0, before[0].prob))), self.q.kind)
        self.p.answer_map.observe(p0, before[0].label == after[0].label)

    def verify_stays(self, hyps: Sequence[Hyp], vis: np.ndarray, detected: np.ndarray) -> None:
        """Each remembered sighting whose spot this look had in view tests the staleness model's P(still
        there): seen there or not, with this look's detection odds (a miss is not read as gone)."""
        det = self.cfg.detector
        for i, h in enumerate(hyps[: len(vis)]):
            if h.source == "seen" and 0.0 < h.p_stay_model < 1.0 and vis[i] >= det.min_visibility:
                self.p.stay_map.observe(h.p_stay_model, bool(detected[i]), vis[i] * (1.0 - det.miss_rate),
                                        vis[i] * det.false_positive_rate)

    def relevant_observations(self, look: LookResult):
        q = self.q
        if q.kind == Q.WHAT_ON:
            from .recall import _near_receptacle
            rooms = set(self.ctx.room_ids(q.room)) if q.room else None
            out = []
            for o in look.observations:
                cls = self.ctx.canonical(o.class_name)
                if self.ctx.vocab is not None and hasattr(self.ctx.vocab, "is_receptacle") and \
                        self.ctx.vocab.is_receptacle(cls):
                    continue
                pos = np.asarray(o.centroid_m, dtype=float)
                if q.receptacle and not _near_receptacle(self.ctx, pos, -1):
                    continue
                if rooms is not None and o.place_id >= 0 and self.ctx.places.get(o.place_id) is not None and \
                        self.ctx.places[o.place_id].room_id not in rooms:
                    continue
                out.append(o)
            return out
        out = [o for o in look.observations if self.ctx.canonical(o.class_name) == q.target
               and self.ctx.color_ok(o.color_rgb)]
        if q.kind in (Q.EXISTS, Q.COUNT) and (q.room or q.receptacle):
            # only detections inside the asked region (room / on the receptacle) are evidence
            from .present import _in_region, _region_rooms
            rooms = _region_rooms(self.ctx)
            out = [o for o in out if _in_region(self.ctx, np.asarray(o.centroid_m, dtype=float),
                                                self.room_of(np.asarray(o.centroid_m, dtype=float)), rooms)]
        return out

    def nearest_place(self, pos: np.ndarray):
        places = self.ctx.places
        if not places:
            return None
        return min(places.values(), key=lambda p: (p.position_m[0] - pos[0]) ** 2 + (p.position_m[1] - pos[1]) ** 2)

    def room_of(self, pos: np.ndarray) -> int:
        """Room of a point: memory's room map's, else the room of the place nearest to it (an observation's
        place_id is where the robot stood, which may be another room than the object's)."""
        p = self.nearest_place(pos)
        return self.ctx.room_at(pos, -1 if p is None else p.room_id)

    def match(self, hyps: Sequence[Hyp], pos: np.ndarray, cls: str) -> Optional[int]:
        """Nearest hypothesis within the match radius (remembered ones first), or None."""
        r = self.cfg.detector.match_radius_m
        best, best_d = None, r
        for prefer_seen in (True, False):
            for i, h in enumerate(hyps):
                if (h.source in ("seen", "found")) != prefer_seen or np.isnan(h.position_m[0]):
                    continue
                if self.q.kind == Q.WHAT_ON and h.class_name != cls:
                    continue
                d = float(np.linalg.norm(h.position_m[:2] - pos[:2]))
                if d <= best_d:
                    best, best_d = i, d
            if best is not None:
                return best
        return None

    def add_found(self, belief, obs, pos: np.ndarray) -> int:
        """A detection where no hypothesis was: it came from the diffuse prior nearest to it."""
        near = self.nearest_place(pos)
        place_id = near.place_id if near is not None else -1
        room = self.room_of(pos)
        hyp = Hyp(pos, place_id, room, 0.0, "", self.ctx.canonical(obs.class_name), "", "found", obs.stamp_ns)
        if isinstance(belief, LocationBelief):
            from .present import where_label
            priors = [i for i, h in enumerate(belief.hyps) if h.source == "prior" and not np.isnan(h.position_m[0])]
            if priors:
                i = min(priors, key=lambda j: float(np.linalg.norm(belief.hyps[j].position_m[:2] - pos[:2])))
                self.found_at(belief, belief.hyps[i], pos, obs.stamp_ns, place_id)
                return i
            hyp.label = where_label(self.ctx, room, place_id) if self.q.kind == Q.WHERE_NOW else "yes"
            return belief.add(hyp, 0.05)
        return belief.add(hyp, 0.5)

    def found_at(self, belief, h: Hyp, pos: np.ndarray, stamp_ns: int, place_id: int = -1) -> None:
        """A prior hypothesis a detection at ``pos`` confirmed: found there, in the room of that position."""
        room = self.room_of(pos)
        h.position_m, h.source, h.last_seen_ns = pos, "found", stamp_ns
        h.place_id, h.room_id = (place_id if place_id >= 0 else h.place_id), (room if room >= 0 else h.room_id)
        if isinstance(belief, LocationBelief) and self.q.kind == Q.WHERE_NOW:
            from .present import where_label
            h.label = where_label(self.ctx, h.room_id, h.place_id)
            belief.relabel()

    # --------------------------------------------------------------------------------------- finish
    def finish(self, decision: Decision, stop: str) -> Answer:
        q, cfg = self.q, self.cfg
        mem_reads = self.ctx.memory.reads
        best = decision.best
        unsure_parse = q.confidence < cfg.parser.min_answer_confidence   # the question itself is in doubt
        understood = f"I understood the question as: {q.describe()}. " if unsure_parse else ""
        if best is None:
            return Answer(status=NOT_SURE, query_kind=q.kind,
                          reason=understood + (decision.reason or "nothing in memory"),
                          query=q, path_m=self.path_m, looks=self.looks, memory_reads=mem_reads, stop_reason=stop,
                          visited_place_ids=list(self.visited), evidence=self.look_evidence, error=self.error)
        raw = float(min(1.0, max(0.0, best.prob)))
        c = cfg.utility.c_wrong
        text = sentence(self.ctx, best)
        reason = decision.reason
        if best.grounded:
            p = self.p.calibrator.apply(raw, q.kind)
            if q.kind in EXPLORABLE and not self.looks:     # a memory-only prediction: as looks verified them
                p = self.p.answer_map.apply(p)
            status = ANSWERED if p - c * (1.0 - p) > 0 else NOT_SURE
        else:
            # no observation behind it: the calibrator maps evidence-backed probabilities and would lift a
            # prior's guess as if it were one; it is a guess, stated with the prior's own probability
            p = raw
            status = NOT_SURE
        if unsure_parse:
            status = NOT_SURE
            reason = f"{understood}parse confidence {q.confidence:.2f}; {reason}"
        if stop == STOP_CANCELLED:
            reason += "; stopped early (cancelled or timed out)"
        if self.looks:
            reason += f"; looked {self.looks} time(s), drove {self.path_m:.1f} m"
        ev = best.evidence.merged(decision.evidence).merged(self.look_evidence) if best.evidence else decision.evidence
        label = self.ctx.room_label(best.room_id)
        return Answer(
            status=status, query_kind=q.kind, reason=reason.strip("; "),
            answer=text if status == ANSWERED else f"{understood}I am not sure. My best guess: {text}",
            position_m=None if best.position_m is None or np.isnan(best.position_m[0]) else np.asarray(best.position_m),
            place_id=best.place_id, room_id=best.room_id, room_label=label, count=best.count, time_ns=best.time_ns,
            yes_no=best.yes_no, items=list(best.items), object_id=best.object_id, best_guess=text, probability=p,
            raw_probability=raw,
            top_answers=[Candidate(o.text, p if i == 0 else float(o.prob), o.place_id, o.room_id, o.position_m)
                         for i, o in enumerate(decision.options[:5])],
            evidence=ev, path_m=self.path_m, looks=self.looks, memory_reads=mem_reads, stop_reason=stop,
            visited_place_ids=list(self.visited), query=q, error=self.error)


def look_evidence(observations: Sequence, views: Sequence) -> Evidence:
    """What a look adds to an answer's evidence: each observation's stamp and view, and the look's first view."""
    evs = [Evidence(stamps_ns=[o.stamp_ns], keyframe_refs=[f"view:{o.view_id}"] if o.view_id else [])
           for o in observations]
    evs += [Evidence(stamps_ns=[v.stamp_ns], keyframe_refs=[f"view:{v.view_id}"]) for v in views[:1]]
    return stack_evidence(evs)


def best_eu_of(belief: LocationBelief, p: np.ndarray, c_wrong: float) -> float:
    from .belief import best_eu
    return best_eu(belief._best_p(p), c_wrong)


def sentence(ctx: Ctx, o: Option) -> str:
    q = ctx.query
    k = q.kind
    t = q.target
    if k in (Q.WHERE_NOW, Q.WHERE_AT, Q.WHERE_USUALLY):
        verb = {Q.WHERE_NOW: "is", Q.WHERE_AT: "was", Q.WHERE_USUALLY: "is usually"}[k]
        return f"The {t} {verb} {o.text}."
    if k == Q.LAST_SEEN:
        return f"I last saw the {t} on {o.text}."
    if k == Q.SINCE_WHEN:
        return f"The {t} has been there {o.text}."
    if k in (Q.EXISTS, Q.DID_MOVE, Q.WILL_BE):
        return "Yes." if o.yes_no else "No."
    if k == Q.COUNT:
        return f"{o.count}."
    if k == Q.DAYS_SEEN:
        return f"On {o.text}."
    if k == Q.WHAT_ON:
        return (", ".join(f"a {i}" for i in o.items) + ".") if o.items else "Nothing."
    if k == Q.ATTRIBUTE:
        return f"The {t} is {o.text}."
    if k == Q.WHEN_NEXT:
        return f"The {t} should be there {o.text}." if not o.text.startswith("it is") else o.text.capitalize() + "."
    if k == Q.WHICH_FIRST:
        return f"{o.text.capitalize()} will run out first."
    if k == Q.WHAT_CHANGED:
        return o.text.capitalize() + "."
    return o.text
