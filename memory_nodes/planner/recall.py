"""Answers from stored observations alone: past tense, habits, forecasts, attributes and changes.

Looking now cannot change these answers, so they never move the robot. Habits (where X usually is) and
forecasts (when X will next be in Y, which item runs out first) are computed here from memory's history.
"""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..common.protocols import Evidence, HistorySpan, stack_evidence
from . import query as Q
from .belief import poisson_binomial
from .context import NS_PER_DAY, Ctx, Decision, Option, color_name
from .timephrase import NS_PER_H, day_start_ns, to_datetime

MIN_SPAN_NS = 10 * 60 * 1_000_000_000     # a single sighting counts as a 10-minute stay


def fmt_time(t_ns: int) -> str:
    return to_datetime(t_ns).strftime("%A %Y-%m-%d %H:%M")


def _span_weight(s: HistorySpan, start: Optional[int] = None, end: Optional[int] = None) -> float:
    a = s.start_ns if start is None else max(s.start_ns, start)
    b = s.end_ns if end is None else min(s.end_ns, end)
    return float(max(b - a, MIN_SPAN_NS if b >= a else 0))


def _normalise(options: List[Option]) -> List[Option]:
    options.sort(key=lambda o: -o.prob)
    return options


def _position_rooms(ctx: Ctx,
                    weights: Dict[Tuple[int, int], Tuple[float, np.ndarray, Evidence]]) -> Dict[Tuple[int, int], int]:
    """(stored room, place) -> the room holding that key's position (``Ctx.room_at``: one read per key)."""
    return {key: ctx.room_at(pos, key[0]) for key, (_, pos, _) in weights.items()}


def _by_room(ctx: Ctx, weights: Dict[Tuple[int, int], Tuple[float, np.ndarray, Evidence]]) -> List[Option]:
    """Aggregate (room, place) weights to options at the configured granularity, each in the room of its
    position."""
    gran = ctx.cfg.explore.answer_granularity
    agg: Dict[int, List] = {}
    rooms = _position_rooms(ctx, weights)
    for (stored, place), (w, pos, ev) in weights.items():
        room = rooms[(stored, place)]
        key = room if gran == "room" else place
        cur = agg.get(key)
        if cur is None:
            agg[key] = [w, pos, place, room, ev, w]
        else:
            cur[0] += w
            cur[4] = cur[4].merged(ev)
            if w > cur[5]:
                cur[1], cur[2], cur[3], cur[5] = pos, place, room, w
    total = sum(v[0] for v in agg.values()) or 1.0
    out = []
    for key, (w, pos, place, room, ev, _) in agg.items():
        out.append(Option(label=f"{gran}:{key}", text=ctx.where_text(room, place, pos), prob=w / total,
                          position_m=pos, place_id=place, room_id=room, evidence=ev))
    return _normalise(out)


# ------------------------------------------------------------------------------------------ past
def where_at(ctx: Ctx) -> Decision:
    q = ctx.query
    if q.last_time or q.window is None:
        tracks = ctx.sightings(before_ns=q.window.end_ns if q.window and q.window.end_ns else ctx.now_ns)
        if not tracks:
            return Decision([], f"I have never seen a {q.target}")
        s = tracks[0]
        opt = Option(label=f"place:{s.place_id}", text=f"{ctx.where_text(s.room_id, -1, s.position_m, s.receptacle)}"
                     f" (last seen {fmt_time(s.last_seen_ns)})", prob=ctx.cfg.belief.past_span_confidence,
                     position_m=np.asarray(s.position_m), place_id=s.place_id, room_id=s.room_id,
                     time_ns=s.last_seen_ns, object_id=s.object_id, evidence=s.evidence)
        return Decision([opt], "the last stored sighting", s.evidence)
    start, end = q.window.start_ns, q.window.end_ns
    spans = ctx.memory.history(q.target, start_ns=start, end_ns=end)
    weights: Dict[Tuple[int, int], Tuple[float, np.ndarray, Evidence]] = {}
    for s in spans:
        w = _span_weight(s, start, end)
        if w <= 0:
            continue
        key = (s.room_id, s.place_id)
        old = weights.get(key)
        weights[key] = (w + (old[0] if old else 0.0), np.asarray(s.position_m),
                        s.evidence if old is None else old[2].merged(s.evidence))
    if not weights:
        # not seen during the window: where it was last seen before it ended, discounted by the gap
        before = ctx.sightings(before_ns=end)
        tracks = [s for s in before if s.last_seen_ns <= (end or ctx.now_ns)]
        if not tracks:
            return Decision([], f"no stored sighting of a {q.target} at or before that time")
        s = tracks[0]
        ref = end if end is not None else ctx.now_ns
        gap_days = max(0.0, (ref - s.last_seen_ns) / NS_PER_DAY)
        p = ctx.cfg.belief.past_span_confidence * math.exp(-ctx.class_move_rate(q.target) * gap_days)
        opt = Option(label=f"place:{s.place_id}",
                     text=ctx.where_text(s.room_id, s.place_id, s.position_m, s.receptacle), prob=p,
                     position_m=np.asarray(s.position_m), place_id=s.place_id, room_id=s.room_id,
                     object_id=s.object_id, evidence=s.evidence)
        return Decision([opt], f"not seen then; last seen before it at {fmt_time(s.last_seen_ns)}", s.evidence)
    opts = _by_room(ctx, weights)
    for o in opts:
        o.prob *= ctx.cfg.belief.past_span_confidence
    return Decision(opts, "stored sightings during that time", stack_evidence([o.evidence for o in opts]))


def last_seen(ctx: Ctx) -> Decision:
    q = ctx.query
    end = q.window.end_ns if q.window and q.window.end_ns else ctx.now_ns
    tracks = ctx.sightings(before_ns=end)
    if q.room:
        rooms = set(ctx.room_ids(q.room))
        spans = [s for s in ctx.memory.history(q.target, end_ns=end) if s.room_id in rooms]
        if not spans:
            return Decision([], f"I have not seen a {q.target} in the {q.room}")
        s = max(spans, key=lambda s: s.end_ns)
        t, room, place, pos, ev, oid = (min(s.end_ns, end), ctx.room_at(s.position_m, s.room_id), s.place_id,
                                        s.position_m, s.evidence, s.object_id)
    else:
        if not tracks:
            return Decision([], f"I have never seen a {q.target}")
        s = tracks[0]
        t, room, place, pos, ev, oid = s.last_seen_ns, s.room_id, s.place_id, s.position_m, s.evidence, s.object_id
    opt = Option(label=f"time:{t}", text=f"{fmt_time(t)}, {ctx.where_text(room, place, pos)}",
                 prob=ctx.cfg.belief.past_span_confidence, time_ns=t, position_m=np.asarray(pos),
                 place_id=place, room_id=room, object_id=oid, evidence=ev)
    return Decision([opt], "the most recent stored sighting", ev)


def since_when(ctx: Ctx) -> Decision:
    q = ctx.query
    tracks = ctx.sightings()
    if q.room:
        rooms = set(ctx.room_ids(q.room))
        tracks = [s for s in tracks if s.room_id in rooms]
    if not tracks:
        return Decision([], f"I do not know of a {q.target}" + (f" in the {q.room}" if q.room else ""))
    ps = [(ctx.memory.p_still_there(s.object_id, ctx.now_ns), s) for s in tracks]
    p, s = max(ps, key=lambda x: (x[0], x[1].last_seen_ns))
    since = _stay_start(ctx, s)
    opt = Option(label=f"time:{since}", text=f"since {fmt_time(since)}, "
                 f"{ctx.where_text(s.room_id, s.place_id, s.position_m, s.receptacle)}",
                 prob=ctx.cfg.belief.past_span_confidence * max(p, 0.05),
                 time_ns=since, position_m=np.asarray(s.position_m), place_id=s.place_id,
                 room_id=s.room_id, object_id=s.object_id, evidence=s.evidence)
    return Decision([opt], "first sighting of its current stay", s.evidence)


def _stay_start(ctx: Ctx, s) -> int:
    """Start of the object's stay at its current position: earlier spans of the same object at the same
    spot, with no span elsewhere in between, extend it back."""
    r = ctx.cfg.detector.match_radius_m
    here = np.asarray(s.position_m, dtype=float)
    spans = sorted((x for x in ctx.memory.history(s.object_id, end_ns=s.first_seen_ns) if x.object_id == s.object_id),
                   key=lambda x: -x.start_ns)
    start = s.first_seen_ns
    for x in spans:
        if x.start_ns >= start:
            continue
        if float(np.linalg.norm(np.asarray(x.position_m, dtype=float)[:2] - here[:2])) > r:
            break
        start = x.start_ns
    return start


def attribute(ctx: Ctx) -> Decision:
    q = ctx.query
    tracks = ctx.sightings()
    if not tracks:
        return Decision([], f"I have never seen a {q.target}")
    votes: Dict[str, float] = defaultdict(float)
    ev = Evidence()
    for s in tracks:
        name, dist = color_name(s.color_rgb)
        votes[name] += math.exp(-dist / 0.25)
        ev = ev.merged(s.evidence)
    total = sum(votes.values()) or 1.0
    opts = [Option(label=f"color:{c}", text=c, prob=0.9 * v / total, items=[c], evidence=ev) for c, v in votes.items()]
    return Decision(_normalise(opts), "mean colour of its stored observations", ev)


def past_presence(ctx: Ctx) -> Decision:
    """exists / count / what_on for a time in the past: from the spans that overlap the window."""
    q = ctx.query
    if q.window is None:
        # reachable: "how many mugs were there the last time?" is past (last_time) with no window
        raise RuntimeError(f"past {q.kind} question without a time window (last_time={q.last_time})")
    start, end = q.window.start_ns, q.window.end_ns
    rooms = set(ctx.room_ids(q.room)) if q.room else None
    conf = ctx.cfg.belief.past_span_confidence
    if q.kind == Q.WHAT_ON:
        t = end if end is not None else ctx.now_ns
        objs = ctx.memory.objects_in(t_ns=t)
        items = _on_receptacle(ctx, objs, rooms)
        names = sorted({s.class_name for s in items})
        ev = stack_evidence([s.evidence for s in items])
        return Decision([Option(label="set:" + ",".join(names), text=", ".join(names) or "nothing",
                                prob=conf ** max(1, len(names)), items=names, evidence=ev)],
                        "stored sightings at that time", ev)
    def inside(pos, room_id: int) -> bool:
        if rooms is not None and room_id not in rooms:
            return False
        return not q.receptacle or _near_receptacle(ctx, np.asarray(pos, dtype=float), room_id)

    spans = [s for s in ctx.memory.history(q.target, start_ns=start, end_ns=end) if inside(s.position_m, s.room_id)]
    # P(each instance was there then): seen there during the window (conf: the detector may have been
    # wrong); else where memory last saw it before the window's end, with the staleness model's P(still
    # there) at that time (memory's hindsight: 1 within a stay, 0 once a later stay began). The robot rarely
    # looks at the asked hour, so counting only what it saw then says 0 for a room full of things.
    q_of: Dict[str, float] = {s.object_id: conf for s in spans}
    t_at = min(end if end is not None else ctx.now_ns, ctx.now_ns)
    ev_parts = [s.evidence for s in spans]
    for s in ctx.memory.last_seen(q.target, before_ns=t_at):
        if s.object_id in q_of or not inside(s.position_m, s.room_id):
            continue
        pq = conf * float(min(1.0, max(0.0, s.p_still_there)))
        if pq > 0.0:
            q_of[s.object_id] = pq
            ev_parts.append(s.evidence)
    ev = stack_evidence(ev_parts)
    from .belief import poisson_binomial
    # and an instance memory never saw there (as the present-tense belief's unseen_instance_rate)
    pmf = poisson_binomial(list(q_of.values()) + [ctx.cfg.belief.unseen_instance_rate])
    if q.kind == Q.COUNT:
        order = [int(k) for k in np.argsort(-pmf, kind="stable")[:3]]
        opts = [Option(label=f"count:{k}", text=str(k), prob=float(pmf[k]), count=k, evidence=ev) for k in order]
        return Decision(opts, f"instances seen then or last seen there before ({len(spans)} sighting(s) then)", ev)
    p_yes = 1.0 - float(pmf[0])
    yes = p_yes >= 0.5
    p = p_yes if yes else 1.0 - p_yes
    return Decision([Option(label="yes" if yes else "no", text="yes" if yes else "no", prob=p, yes_no=yes,
                            evidence=ev),
                     Option(label="no" if yes else "yes", text="no" if yes else "yes", prob=1 - p, yes_no=not yes)],
                    "stored sightings during that time, or last seen there before", ev)


def receptacle_positions(ctx: Ctx) -> List[Tuple[np.ndarray, int]]:
    q = ctx.query
    cached = ctx._receptacles
    if cached is None:
        cached = [(np.asarray(s.position_m), s.room_id)
                  for s in ctx.memory.last_seen(q.receptacle, before_ns=ctx.now_ns)]
        ctx._receptacles = cached
    return cached


def _near_receptacle(ctx: Ctx, pos: np.ndarray, room_id: int) -> bool:
    r = ctx.cfg.belief.receptacle_radius_m
    rooms = set(ctx.room_ids(ctx.query.room)) if ctx.query.room else None
    for rp, rroom in receptacle_positions(ctx):
        if rooms is not None and rroom not in rooms:
            continue
        if float(np.linalg.norm(pos[:2] - rp[:2])) <= r:
            return True
    return False


def _on_receptacle(ctx: Ctx, objs, rooms) -> list:
    q = ctx.query
    out = []
    for s in objs:
        if rooms is not None and s.room_id not in rooms:
            continue
        if ctx.vocab is not None and hasattr(ctx.vocab, "is_receptacle") and ctx.vocab.is_receptacle(s.class_name):
            continue
        if q.receptacle:
            rec = ctx.canonical(s.receptacle) if s.receptacle else ""
            if rec != q.receptacle and not (not rec and _near_receptacle(ctx, np.asarray(s.position_m), s.room_id)):
                continue
        out.append(s)
    return out


# ------------------------------------------------------------------------------------ habits
def where_usually(ctx: Ctx) -> Decision:
    q = ctx.query
    start = q.window.start_ns if q.window else None
    end = q.window.end_ns if q.window and q.window.end_ns else ctx.now_ns
    spans = ctx.memory.history(q.target, start_ns=start, end_ns=end)
    if not spans:
        return Decision([], f"I have no history of a {q.target}")
    weights: Dict[Tuple[int, int], Tuple[float, np.ndarray, Evidence]] = {}
    for s in spans:
        w = _span_weight(s, start, end)
        key = (s.room_id, s.place_id)
        old = weights.get(key)
        weights[key] = (w + (old[0] if old else 0.0), np.asarray(s.position_m),
                        s.evidence if old is None else old[2].merged(s.evidence))
    opts = _by_room(ctx, weights)
    # P(this is the usual place): the time it was seen at each place per day (usual_place_probabilities)
    cal = ctx.cfg.parser.calendar
    gran = ctx.cfg.explore.answer_granularity
    per_day: Dict[int, Dict[str, float]] = defaultdict(lambda: defaultdict(float))
    rooms = _position_rooms(ctx, weights)          # the rooms _by_room named (read once, cached)
    for s in spans:
        label = f"{gran}:{rooms[(s.room_id, s.place_id)] if gran == 'room' else s.place_id}"
        a = s.start_ns if start is None else max(s.start_ns, start)
        b = s.end_ns if end is None else min(s.end_ns, end)
        d = day_start_ns(a, cal)
        while True:                    # a stay over several days counts on each day it covers
            per_day[d][label] += _span_weight(s, max(a, d), min(b, d + NS_PER_DAY))
            d += NS_PER_DAY
            if d > b:
                break
    probs = usual_place_probabilities([dict(day) for day in per_day.values()])
    for o in opts:
        o.prob = probs.get(o.label, 0.0)
    opts.sort(key=lambda o: -o.prob)
    top = opts[0].label
    wins = sum(1 for day in per_day.values() if max(day.items(), key=lambda kv: kv[1])[0] == top)
    return Decision(opts, f"where it spent most of the day on {wins} of {len(per_day)} day(s)",
                    stack_evidence([o.evidence for o in opts[:3]]))


_USUAL_PRIOR = 0.5          # weight of the prior pseudo-day spent "somewhere not seen" (in days)
_USUAL_DRAWS = 4000


def usual_place_probabilities(days: Sequence[Dict[str, float]]) -> Dict[str, float]:
    """P(each place is where the object spends the most time), from the time it was seen at each place
    per day. Each day is one sample of the object's daily shares (a day seen longer says no more about the
    habit than a day seen briefly); the long-run shares are a Bayesian bootstrap over the days plus a
    pseudo-day of weight ``_USUAL_PRIOR`` spent somewhere not seen (Dirichlet(1, ..., 1, prior) weights,
    seeded draws), and a place's probability is how often it holds the largest share. The question is which
    place holds it most, not whether one holds it more often than not: a steady 40/30/30 habit has a usual
    place, and one day seen is a hint, not a habit."""
    labels = sorted({k for d in days for k in d})
    rows = []
    for d in days:
        tot = sum(max(d.get(k, 0.0), 0.0) for k in labels)
        if tot > 0:
            rows.append([max(d.get(k, 0.0), 0.0) / tot for k in labels] + [0.0])
    if not rows:
        return {}
    shares = np.array(rows + [[0.0] * len(labels) + [1.0]])
    alpha = np.array([1.0] * len(rows) + [_USUAL_PRIOR])
    w = np.random.default_rng(0).gamma(alpha, size=(_USUAL_DRAWS, alpha.size))
    best = np.bincount(np.argmax(w @ shares, axis=1), minlength=len(labels) + 1) / _USUAL_DRAWS
    return {k: float(best[i]) for i, k in enumerate(labels)}


def _tod_h(t_ns: int, ctx: Ctx) -> float:
    return (t_ns - day_start_ns(t_ns, ctx.cfg.parser.calendar)) / NS_PER_H


def when_next(ctx: Ctx) -> Decision:
    q = ctx.query
    cal = ctx.cfg.parser.calendar
    spans = sorted(ctx.memory.history(q.target, end_ns=ctx.now_ns), key=lambda s: s.start_ns)
    if not spans:
        return Decision([], f"I have no history of a {q.target}")
    rooms = set(ctx.room_ids(q.room)) if q.room else None

    def inside(s: HistorySpan) -> bool:
        if rooms is not None and s.room_id not in rooms:
            return False
        if q.receptacle and not _near_receptacle(ctx, np.asarray(s.position_m), s.room_id):
            return False
        return True

    arrivals: List[HistorySpan] = []
    prev_in: Dict[str, bool] = {}
    for s in spans:
        if inside(s) and not prev_in.get(s.object_id, False):
            arrivals.append(s)
        prev_in[s.object_id] = inside(s)
    days = {day_start_ns(s.start_ns, cal) for s in spans}
    n_days = max(1, len(days))
    if not arrivals:
        return Decision([], f"the {q.target} was never seen arriving there")
    tods = np.array([_tod_h(s.start_ns, ctx) for s in arrivals])
    arr_days = np.array([day_start_ns(s.start_ns, cal) for s in arrivals])
    today = day_start_ns(ctx.now_ns, cal)
    now_tod = _tod_h(ctx.now_ns, ctx)
    cands = []
    for h in np.unique(np.round(tods * 2) / 2):            # half-hour bins
        near = np.abs(((tods - h + 12) % 24) - 12) <= 1.0
        days_with = len(set(arr_days[near].tolist()))
        mean_h = float(np.mean(tods[near]))
        nxt = today + int(mean_h * NS_PER_H)
        if mean_h <= now_tod:
            nxt += NS_PER_DAY
        cands.append((nxt, days_with / n_days, mean_h))
    # the soonest time that happens on at least 40 % of the days (else the best supported one)
    regular = [c for c in cands if c[1] >= 0.4] or [max(cands, key=lambda c: c[1])]
    nxt, support, mean_h = min(regular, key=lambda c: c[0])
    ev = stack_evidence([s.evidence for s in arrivals[-5:]])
    opt = Option(label=f"time:{nxt}", text=f"around {fmt_time(nxt)}", prob=min(0.9, support) * 0.8,
                 time_ns=int(nxt), evidence=ev)
    others = [Option(label=f"time:{c[0]}", text=f"around {fmt_time(c[0])}", prob=min(0.9, c[1]) * 0.4,
                     time_ns=int(c[0])) for c in sorted(cands, key=lambda c: -c[1]) if c[0] != nxt][:3]
    return Decision([opt] + others, f"usual arrival around {mean_h:.1f} h on {support:.0%} of {n_days} day(s)", ev)


def _life_spread(lives: List[float], life: float) -> float:
    """Spread (ns) of how long an instance lasts: the finished instances' lives around their typical one,
    with one pseudo-instance as spread as an exponential life (sd = the life itself), so a class with one
    or two finished instances is not read as a clockwork; with none, that exponential spread alone."""
    return math.sqrt((sum((x - life) ** 2 for x in lives) + life ** 2) / (len(lives) + 1.0))


def which_first(ctx: Ctx) -> Decision:
    """Which of two items runs out first: each item's run-out time predicted from its past instances' lives
    (from the first sighting of the one there now), or now when memory holds none there. How sure: the
    predicted gap against the spread of those lives (normal approximation, ``_life_spread``), times how
    sure memory is that an item it counts as gone is gone (1 - P(still there) of its best track)."""
    q = ctx.query
    preds: List[Tuple[float, str, float, str]] = []     # (run-out time ns, target, spread ns, why)
    ev_all = Evidence()
    p_gone_ok = 1.0
    for target in q.targets:
        spans = sorted(ctx.memory.history(target, end_ns=ctx.now_ns), key=lambda s: s.start_ns)
        tracks = list(ctx.memory.last_seen(target, before_ns=ctx.now_ns))
        ps = [(ctx.memory.p_still_there(s.object_id, ctx.now_ns), s) for s in tracks]
        present = [(p, s) for p, s in ps if p >= 0.5]
        ev = stack_evidence([s.evidence for s in spans[-3:]])
        ev_all = ev_all.merged(ev)
        if not present:
            p_gone_ok *= 1.0 - max([p for p, _ in ps], default=0.0)
            preds.append((ctx.now_ns, target, 0.0, "already gone"))
            continue
        # life of an instance: from its first to its last sighting, over finished instances
        by_obj: Dict[str, List[HistorySpan]] = defaultdict(list)
        for s in spans:
            by_obj[s.object_id].append(s)
        current_ids = {s.object_id for _, s in present}
        lives = [float(max(x.end_ns for x in v) - min(x.start_ns for x in v)) for k, v in by_obj.items()
                 if k not in current_ids]
        start = min(min((x.start_ns for x in by_obj.get(s.object_id, [])), default=s.first_seen_ns)
                    for _, s in present)
        rate = ctx.class_move_rate(target)
        life = float(np.median(lives)) if lives else NS_PER_DAY / max(rate, 1e-3)
        preds.append((start + life, target, _life_spread(lives, life), "expected from past use"))
    preds.sort(key=lambda x: x[0])
    if len(preds) < 2:
        return Decision([], "need two items to compare")
    gap = preds[1][0] - preds[0][0]
    sd = math.sqrt(preds[0][2] ** 2 + preds[1][2] ** 2)
    p_order = 0.5 * (1.0 + math.erf(gap / (sd * math.sqrt(2.0)))) if sd > 0 else (1.0 if gap > 0 else 0.5)
    p = p_order * p_gone_ok + 0.5 * (1.0 - p_gone_ok)
    opts = [Option(label=f"item:{preds[0][1]}", text=f"the {preds[0][1]} ({preds[0][3]})", prob=p,
                   items=[preds[0][1]], time_ns=int(preds[0][0]), evidence=ev_all)]
    opts += [Option(label=f"item:{x[1]}", text=f"the {x[1]}", prob=(1 - p) / (len(preds) - 1), items=[x[1]],
                    time_ns=int(x[0])) for x in preds[1:]]
    return Decision(opts, "predicted run-out times from past use", ev_all)


def _event_real(ctx: Ctx, class_name: str, window_days: float) -> float:
    """P(a stored change event of ``class_name`` in a window of ``window_days`` is a real change): the
    class's learned move rate gives the prior odds of a change in the window, the detector the odds that
    the event is a miss read as a change (a present thing not detected, a track split) rather than one."""
    miss = ctx.cfg.detector.miss_rate
    prior = 1.0 - math.exp(-ctx.class_move_rate(class_name) * max(window_days, 1.0 / 24.0))
    real = prior * (1.0 - miss)
    return real / (real + (1.0 - prior) * miss)


def _unseen_changes(ctx: Ctx, rooms: List[Optional[int]], start: Optional[int], listed: set) -> Dict[str, float]:
    """What may have changed in the window without memory seeing it, as independent P(change) terms:
    per class memory holds in the region and lists no event of, P(one of its objects left or moved):
    1 - P(still there now) / P(still there at the window's start), from memory's staleness model (the time
    it was not looked at, absences since, returns); and per room, P(something arrived since memory last
    looked at it): 1 - exp(-rate * unseen days), the rate the room's past "appeared" events per day
    (+0.5 / +1 day, so a room with little history is not read as one where nothing ever arrives)."""
    if not ctx.cfg.belief.use_staleness:
        return {}
    q = ctx.query
    stay: Dict[str, float] = defaultdict(lambda: 1.0)
    out: Dict[str, float] = {}
    for r in rooms:
        last_look = start if start is not None else ctx.now_ns
        for s in ctx.memory.objects_in(room_id=r, t_ns=ctx.now_ns):
            last_look = max(last_look, s.last_seen_ns)
            c = ctx.canonical(s.class_name)
            if c in listed or (q.target and c != ctx.canonical(q.target)):
                continue
            p_now = float(ctx.memory.p_still_there(s.object_id, ctx.now_ns))
            p_then = 1.0
            if start is not None and s.last_seen_ns < start:
                p_then = float(ctx.memory.p_still_there(s.object_id, start))
            stay[c] *= min(1.0, max(0.0, p_now / p_then if p_then > 1e-6 else 1.0))
        past = [e for e in ctx.memory.changes(end_ns=ctx.now_ns, room_id=r)
                if not q.target or e.class_name == q.target]
        last_look = max([last_look] + [e.stamp_ns for e in past if e.stamp_ns <= ctx.now_ns])
        span_days = (ctx.now_ns - min([e.stamp_ns for e in past], default=ctx.now_ns)) / NS_PER_DAY
        arrivals = {(e.class_name, e.stamp_ns // NS_PER_DAY) for e in past if e.kind == "appeared"}
        rate = (len(arrivals) + 0.5) / (span_days + 1.0)
        out[f"arrival@{r}"] = 1.0 - math.exp(-rate * max(0.0, ctx.now_ns - last_look) / NS_PER_DAY)
    out.update({c: 1.0 - v for c, v in stay.items()})
    return out


def p_set_right(q_listed: Sequence[float], q_unlisted: Sequence[float], min_f1: float) -> float:
    """P(a listed set is right, i.e. its F1 against the true set is >= ``min_f1``): each listed item is
    truly in the set with its probability, each unlisted one truly in it with its own (Poisson-binomial
    counts of the true positives and of the misses); an empty list is right iff nothing is in the set."""
    a = len(q_listed)
    fn = poisson_binomial(list(q_unlisted))
    if a == 0:
        return float(fn[0])
    tp = poisson_binomial(list(q_listed))
    total = 0.0
    for i, pi in enumerate(tp):
        for j, pj in enumerate(fn):
            if i > 0 and 2.0 * i / (a + i + j) >= min_f1:
                total += float(pi * pj)
    return total


def _net_change(ctx: Ctx, object_id: str, start: Optional[int], rooms: List[Optional[int]]) -> float:
    """P(the object is in the region at the window's start and not now, or now and not then, or in it both
    times at spots more than match_radius_m apart): the question asks what differs, not what happened in
    between. Where it was then and is now are memory's stays at those times, each with its P(still
    there) (independent; a thing memory did not know then, or does not know now, was / is not there)."""
    def inside(x) -> float:
        if x is None:
            return 0.0
        room = ctx.room_at(np.asarray(x.position_m, dtype=float), x.room_id)
        return float(x.p_still_there) if rooms == [None] or room in rooms else 0.0
    a = ctx.memory.where_at(object_id, start) if start is not None else None
    b = ctx.memory.where_at(object_id, ctx.now_ns)
    pa, pb = inside(a), inside(b)
    moved = a is not None and b is not None and float(np.linalg.norm(
        np.asarray(a.position_m, dtype=float)[:2] - np.asarray(b.position_m, dtype=float)[:2])) > \
        ctx.cfg.detector.match_radius_m
    return pa * (1.0 - pb) + (1.0 - pa) * pb + (pa * pb if moved else 0.0)


def what_changed(ctx: Ctx) -> Decision:
    """``what_changed_and_look_value``'s decision."""
    return what_changed_and_look_value(ctx)[0]


def changes_seen_now(ctx: Ctx, observations: Sequence, rooms: Sequence[int], since_ns: int,
                     p_real: float) -> Dict[str, float]:
    """Class -> P(changed) for what looks just saw in ``rooms``: a class seen there now where memory held no
    object of it at ``since_ns`` within ``detector.match_radius_m`` (new there, or moved to that spot),
    ``p_real`` (the detection is real), where the robot's pose trail faced that spot within the window (a
    thing memory never had in view is unknown to it, not new). Memory confirms a track only after several
    sightings, so a look's newcomer is no change event yet; this is the look's own evidence."""
    r = ctx.cfg.detector.match_radius_m
    room_set = set(rooms)
    then: Dict[str, List[np.ndarray]] = defaultdict(list)
    # what memory held there then, and just before the looks (a thing first seen after T, at the next patrol,
    # was there at T as far as memory can tell); the looks are stamped from the question time on
    for t in sorted({min(since_ns, ctx.now_ns - 1), ctx.now_ns - 1}):
        for room in room_set:
            for s in ctx.memory.objects_in(room_id=room, t_ns=t):
                then[ctx.canonical(s.class_name)].append(np.asarray(s.position_m, float))
    out: Dict[str, float] = {}
    poses: Optional[list] = None                   # the window's pose trail, read once when first needed
    for o in observations:
        pos = np.asarray(o.centroid_m, float)
        c = ctx.canonical(o.class_name)
        hint = ctx.places[o.place_id].room_id if o.place_id in ctx.places else -1   # where it was seen from
        if c in out or ctx.memory.room_at(pos, hint) not in room_set:
            continue
        if any(float(np.linalg.norm(pos[:2] - x[:2])) <= r for x in then.get(c, [])):
            continue
        # not held there: new only if the robot looked at that spot in the window (else memory never saw it)
        if poses is None:
            poses = list(ctx.memory.robot_poses(since_ns, ctx.now_ns - 1))
        if _faced_by(ctx, poses, [pos]):
            out[c] = p_real
    return out


def what_changed_and_look_value(ctx: Ctx, seen_now: Optional[Dict[str, float]] = None) -> Tuple[Decision, float]:
    """(the answer, how sure it would be if memory had seen the region now): the second is the first's
    probability without ``_unseen_changes``' terms, what a sweep of the region resolves (the planner's
    value of looking at it). ``seen_now``: class -> P(changed) from looks just taken (``changes_seen_now``),
    listed where more likely than not and not already in memory's events.

    What differs (in Y) now from T: the classes of memory's change events in the window whose objects
    are not where they were at T (``_net_change``: a thing that moved and came back is no difference),
    each a real change with the odds ``_event_real`` gives its event; the answer lists the classes more
    likely changed than not. How sure: those odds for the listed and the left-out classes, each class
    memory holds there without an event changed unseen with ``_unseen_changes``' odds, and the list is
    right when its F1 reaches ``belief.set_answer_min_f1``."""
    q = ctx.query
    start = q.window.start_ns if q.window else None
    rooms: List[Optional[int]] = list(ctx.room_ids(q.room)) if q.room else [None]
    if not rooms:       # no room of that name in memory: ignorance, not evidence that nothing changed
        p = 1.0 - ctx.cfg.belief.p_absent_if_never_seen
        return Decision([Option(label="set:", text="nothing changed", prob=p, count=0)],
                        f"memory knows no room called {q.room}"), p
    events = []
    for r in rooms:
        events += list(ctx.memory.changes(start_ns=start, end_ns=ctx.now_ns, room_id=r))
    if q.target:
        events = [e for e in events if e.class_name == q.target]
    events.sort(key=lambda e: e.stamp_ns)
    window_days = (ctx.now_ns - start) / NS_PER_DAY if start is not None else 7.0
    stay: Dict[str, float] = defaultdict(lambda: 1.0)      # class -> P(no object of it changed)
    for oid, cls in dict.fromkeys((e.object_id, e.class_name) for e in events):
        stay[cls] *= 1.0 - _net_change(ctx, oid, start, rooms) * _event_real(ctx, cls, window_days)
    p_cls = {c: 1.0 - v for c, v in stay.items()}
    items = [c for c in dict.fromkeys(e.class_name for e in events) if p_cls[c] >= 0.5]
    shown = [e for e in events if e.class_name in items]
    ev = stack_evidence([e.evidence for e in shown])
    for c, v in (seen_now or {}).items():          # what the looks just saw: new there, or moved to there
        if c in p_cls:
            p_cls[c] = max(p_cls[c], v)
            if p_cls[c] >= 0.5 and c not in items:
                items.append(c)
        elif v > 0.0:
            p_cls[c] = v
            if v >= 0.5:
                items.append(c)
    listed = {ctx.canonical(c) for c in p_cls}
    unseen = _unseen_changes(ctx, rooms, start, listed)
    left_out = [v for c, v in p_cls.items() if c not in items] + list(unseen.values())
    min_f1 = ctx.cfg.belief.set_answer_min_f1
    p = p_set_right([p_cls[c] for c in items], left_out, min_f1)
    p_seen = p_set_right([p_cls[c] for c in items], [v for c, v in p_cls.items() if c not in items], min_f1)
    evented = {e.class_name for e in shown}
    news = [c for c in items if c not in evented]
    if not shown and not news:
        why = "no change event stored in that time" if not events else \
            f"{len(events)} change event(s) stored, none a difference from then"
        return Decision([Option(label="set:", text="nothing changed", prob=p, count=0, evidence=ev)],
                        f"{why}; {len(unseen)} class(es) there unseen for a while", ev), p_seen
    latest = {e.class_name: e for e in shown}          # one line per class: its latest event
    parts = [f"the {e.class_name} {e.kind} ({fmt_time(e.stamp_ns)})" for e in latest.values()]
    parts += [f"the {c} is there now, not where it was then (seen just now)" for c in news]
    return Decision([Option(label="set:" + ",".join(sorted(items)), text="; ".join(parts), prob=p,
                            items=items, count=len(shown) + len(news),
                            time_ns=shown[-1].stamp_ns if shown else ctx.now_ns, evidence=ev)],
                    f"{len(shown)} change event(s) stored that differ from then", ev), p_seen


def will_be(ctx: Ctx) -> Decision:
    """Will X be in Y at a future time: the share of past days on which X was there at that time of day
    (Laplace-smoothed), blended with where it is now when the time is close."""
    q = ctx.query
    cal = ctx.cfg.parser.calendar
    w = q.window
    a_ns = w.start_ns if w and w.start_ns is not None else ctx.now_ns
    b_ns = w.end_ns if w and w.end_ns is not None else a_ns
    a_h, b_h = _tod_h(a_ns, ctx), _tod_h(a_ns, ctx) + (b_ns - a_ns) / NS_PER_H
    rooms = set(ctx.room_ids(q.room)) if q.room else None

    def inside(s: HistorySpan) -> bool:
        if rooms is not None and s.room_id not in rooms:
            return False
        return not q.receptacle or _near_receptacle(ctx, np.asarray(s.position_m), s.room_id)

    spans = ctx.memory.history(q.target, end_ns=ctx.now_ns)
    if not spans:
        return Decision([], f"I have no history of a {q.target}")
    days: Dict[int, bool] = {}
    ev = Evidence()
    for s in spans:
        d = day_start_ns(s.start_ns, cal)
        days.setdefault(d, False)
        lo, hi = d + int(a_h * NS_PER_H), d + int(b_h * NS_PER_H) + 1
        if inside(s) and s.start_ns <= hi and s.end_ns >= lo:
            days[d] = True
            ev = ev.merged(s.evidence)
    n, k = len(days), sum(days.values())
    p_yes = (k + 0.5) / (n + 1.0)
    yes = p_yes >= 0.5
    p = p_yes if yes else 1.0 - p_yes
    return Decision([Option(label="yes" if yes else "no", text="yes" if yes else "no", prob=p, yes_no=yes, evidence=ev),
                     Option(label="no" if yes else "yes", text="no" if yes else "yes", prob=1 - p, yes_no=not yes)],
                    f"there at that time on {k} of {n} day(s)", ev)


def days_seen(ctx: Ctx) -> Decision:
    """On how many days of the window memory saw X in Y: the robot's own record ("on how many of the last 4
    days did you see the mug in the kitchen"), not a guess at days nobody looked. A day counts when a
    stored stay of X there begins or ends on it (a sighting then), or when the stay runs through it and the
    robot's pose trail puts it in Y that day (it looked while X stayed: seen, unless it missed X). A stay
    bridging a day the robot spent elsewhere does not count that day: X may have left and come back.

    How sure, per day (``belief.days_seen_*``): a sighting day is right unless the sighting was wrong; a day
    inferred from the robot's visit unless the detector missed X all that visit; a day the robot was in Y
    without a stay of X there unless it missed X; a day the robot never was in Y is settled."""
    q = ctx.query
    cfg = ctx.cfg.belief
    cal = ctx.cfg.parser.calendar
    start = q.window.start_ns if q.window and q.window.start_ns is not None else ctx.now_ns - NS_PER_DAY
    end = q.window.end_ns if q.window and q.window.end_ns is not None else ctx.now_ns
    rooms = list(ctx.room_ids(q.room)) if q.room else None
    room_set = None if rooms is None else set(rooms)
    ids = {s.object_id for s in ctx.sightings()} if q.color else None   # "the blue pillow": not the red one
    spans = []
    for s in ctx.memory.history(q.target, start_ns=start, end_ns=end):
        if room_set is not None and s.room_id not in room_set or ids is not None and s.object_id not in ids:
            continue
        if q.receptacle and not _near_receptacle(ctx, np.asarray(s.position_m), s.room_id):
            continue
        spans.append(s)
    first_day, last_day = day_start_ns(start, cal), day_start_ns(end, cal)
    total = max(1, int(round((last_day - first_day) / NS_PER_DAY)) + 1)
    ev = Evidence()
    counted, p = 0, 1.0
    for k in range(total):
        d = first_day + k * NS_PER_DAY
        lo, hi = max(d, start), min(d + NS_PER_DAY - 1, end)
        if hi < lo:
            continue
        here = [s for s in spans if s.start_ns <= hi and s.end_ns >= lo]
        sighted = [s for s in here if lo <= s.start_ns <= hi or lo <= s.end_ns <= hi]
        if sighted:
            counted += 1
            p *= 1.0 - cfg.days_seen_sighting_error
            ev = ev.merged(stack_evidence([s.evidence for s in sighted]))
            continue
        if here and _robot_faced(ctx, [np.asarray(s.position_m) for s in here], lo, hi):
            counted += 1
            p *= 1.0 - cfg.days_seen_visit_error
            ev = ev.merged(stack_evidence([s.evidence for s in here]))
        elif not here and _robot_in(ctx, rooms, lo, hi):
            p *= 1.0 - cfg.days_seen_visit_error
    return Decision([Option(label=f"count:{counted}", text=f"{counted} of {total} day(s)", prob=p, count=counted,
                            evidence=ev)],
                    f"days with a sighting of it there, or a visit there while it stayed, in the last {total} "
                    f"day(s)", ev)


def _robot_faced(ctx: Ctx, positions: List[np.ndarray], lo_ns: int, hi_ns: int) -> bool:
    """Whether a pose of the robot's trail within [lo_ns, hi_ns] had one of ``positions`` in front of the
    camera (within ``detector.max_range_m`` and ``belief.days_seen_view_half_angle_rad`` of the optical
    axis): it looked at the spot that day."""
    return _faced_by(ctx, ctx.memory.robot_poses(lo_ns, hi_ns), positions)


def _faced_by(ctx: Ctx, poses: Sequence, positions: List[np.ndarray]) -> bool:
    """Whether one of ``poses`` had one of ``positions`` in front of the camera (``_robot_faced``)."""
    rng = ctx.cfg.detector.max_range_m
    half = ctx.cfg.belief.days_seen_view_half_angle_rad
    for pose in poses:
        c = np.asarray(pose.position_m, float)
        for x in positions:
            dx, dy = float(x[0] - c[0]), float(x[1] - c[1])
            dist = math.hypot(dx, dy)
            if dist > rng:
                continue
            off = abs((math.atan2(dy, dx) - pose.yaw_rad + math.pi) % (2 * math.pi) - math.pi)
            if dist < 0.5 or off <= half:
                return True
    return False


def _robot_in(ctx: Ctx, rooms: Optional[List[int]], lo_ns: int, hi_ns: int) -> bool:
    """Whether the robot's pose trail has a pose in one of ``rooms`` (None: anywhere) within [lo_ns, hi_ns]."""
    for r in (rooms if rooms is not None else [None]):
        if ctx.memory.robot_poses(lo_ns, hi_ns, r, 1):
            return True
    return False
