"""Answers about the robot's own travel, from memory's pose trail (MemoryView.robot_poses).

    robot_where_at  "where were you at 3 pm?"  the pose nearest that time (within pose_history.tolerance_s);
                    "... this morning?"         the rooms it spent that time in, most first;
                    "where are you?"            its latest pose
    robot_last_in   "when were you last in the kitchen?"   its latest visit there (start, end)
    robot_time_in   "how long were you in the kitchen (today)?"   time there by the gap rule; today if no time

The rules (gap rule, bracketed fixes, visits, half-counted door crossings) are common/trajectory.py's.
Confidence: ``pose_history.confidence`` (the room cut's own error) for a pose between two poses of one room;
lower when the asked time falls between two rooms (the share of the interval on the nearer side), or past
the end of the record (down to half at the tolerance); for time spent, scaled by how much of the robot's
active time in the window the trail covers. Where the trail does not cover the asked time the answer is
"I have no pose record then", with the nearest record there is. Evidence: the poses' stamps, places and
keyframes.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np

from ..common.protocols import Evidence, PoseSample
from ..common.trajectory import pose_at, room_times, visits
from .context import Ctx, Decision, Option
from .recall import fmt_time
from .timephrase import NS_PER_S, day_start_ns

NS_PER_MIN = 60 * NS_PER_S
_EVIDENCE_POSES = 8                  # poses cited per answer at most


def fmt_duration(ns: float) -> str:
    """ "45 s", "12 min", "2 h 05 min"."""
    s = max(0.0, float(ns) / NS_PER_S)
    if s < 90:
        return f"{s:.0f} s"
    m = int(round(s / 60.0))
    return f"{m} min" if m < 60 else f"{m // 60} h {m % 60:02d} min"


def _evidence(samples: Sequence[PoseSample]) -> Evidence:
    cited = list(samples)
    if len(cited) > _EVIDENCE_POSES:      # the first and last and evenly between
        idx = np.unique(np.linspace(0, len(cited) - 1, _EVIDENCE_POSES).round().astype(int))
        cited = [cited[i] for i in idx]
    return Evidence(place_ids=list(dict.fromkeys(p.place_id for p in cited if p.place_id >= 0)),
                    stamps_ns=[p.stamp_ns for p in cited],
                    keyframe_refs=list(dict.fromkeys(p.keyframe_ref for p in cited if p.keyframe_ref)))


def _ns(seconds: float) -> int:
    return int(seconds * NS_PER_S)


def _read(ctx: Ctx, start_ns: Optional[int], end_ns: Optional[int], room_id: Optional[int] = None,
          limit: int = 0) -> List[PoseSample]:
    cap = ctx.cfg.pose_history.max_poses
    return list(ctx.memory.robot_poses(start_ns, end_ns, room_id, min(limit, cap) if limit > 0 else cap))


def _nearest_record(ctx: Ctx, t_ns: int) -> str:
    """ "my last pose record before then is from Thursday ... 14:20, in the kitchen" (or that there is none)."""
    before = _read(ctx, None, t_ns, limit=1)
    if not before:
        return "I have no pose record before then"
    p = before[-1]
    return f"my last pose record before then is from {fmt_time(p.stamp_ns)}, " \
           f"{ctx.where_text(p.room_id, p.place_id, p.position_m)}"


# ------------------------------------------------------------------------------------- where at
def where_at(ctx: Ctx) -> Decision:
    q, cfg = ctx.query, ctx.cfg.pose_history
    tol, gap = _ns(cfg.tolerance_s), _ns(cfg.max_gap_s)
    w = q.window
    if w is None:
        return _where_now(ctx)
    start = w.start_ns if w.start_ns is not None else None
    end = min(w.end_ns if w.end_ns is not None else ctx.now_ns, max(ctx.now_ns, start or 0))   # not past now
    if start is None or end - start <= 2 * tol:
        t = end if start is None else (start + end) // 2
        return _where_at_instant(ctx, t, tol, gap, w.label)
    return _where_during(ctx, start, end, gap, w.label)


def _where_now(ctx: Ctx) -> Decision:
    cfg = ctx.cfg.pose_history
    tol = _ns(cfg.tolerance_s)
    last = _read(ctx, None, ctx.now_ns, limit=1)
    if not last:
        return Decision([], "I have no pose record at all (memory holds no views yet)")
    p = last[-1]
    age = max(0, ctx.now_ns - p.stamp_ns)
    where = ctx.where_text(p.room_id, p.place_id, p.position_m)
    if age <= tol:
        prob = cfg.confidence * (1.0 - 0.5 * age / tol)
        text = f"I am {where} (my latest pose, {fmt_time(p.stamp_ns)})."
    else:
        # the record stops: where it last was, no better than a guess that it has not moved since
        prob = cfg.confidence * 0.5
        text = f"My latest pose record is from {fmt_time(p.stamp_ns)}: I was {where} then."
    return Decision([Option(label=f"room:{p.room_id}", text=text, prob=prob, position_m=np.asarray(p.position_m),
                            place_id=p.place_id, room_id=p.room_id, time_ns=p.stamp_ns, evidence=_evidence([p]))],
                    f"latest pose record {fmt_duration(age)} before the question", _evidence([p]))


def _where_at_instant(ctx: Ctx, t: int, tol: int, gap: int, label: str) -> Decision:
    cfg = ctx.cfg.pose_history
    trail = _read(ctx, t - max(tol, gap), t + max(tol, gap))
    fix = pose_at(trail, t, tol, gap)
    when = label or fmt_time(t)
    if fix is None:
        return Decision([], f"I have no pose record {when} ({fmt_time(t)}); {_nearest_record(ctx, t)}")
    p = fix.sample
    opts: List[Option] = []
    cited = [p] + ([fix.other] if fix.other is not None else [])
    ev = _evidence(sorted(cited, key=lambda x: x.stamp_ns))
    if fix.bracketed and fix.other is not None and fix.other.room_id != p.room_id:
        span = abs(fix.other.stamp_ns - p.stamp_ns) or 1
        near = 1.0 - fix.offset_ns / span          # the share of the interval on the nearer sample's side
        probs = [(p, cfg.confidence * near), (fix.other, cfg.confidence * (1.0 - near))]
        why = f"between a pose at {fmt_time(p.stamp_ns)} and one at {fmt_time(fix.other.stamp_ns)} in another room"
    elif fix.bracketed:
        probs = [(p, cfg.confidence)]
        why = ("a pose at that very time" if fix.other is None else
               f"poses at {fmt_time(min(x.stamp_ns for x in cited))} and {fmt_time(max(x.stamp_ns for x in cited))}")
    else:
        probs = [(p, cfg.confidence * (1.0 - 0.5 * fix.offset_ns / tol))]
        side = "after" if p.stamp_ns < t else "before"
        why = f"the nearest pose, {fmt_duration(fix.offset_ns)} {side} that time (my record stops there)"
    for s, prob in probs:
        where = ctx.where_text(s.room_id, s.place_id, s.position_m)
        opts.append(Option(label=f"room:{s.room_id}", text=f"I was {where} {when} (pose at {fmt_time(s.stamp_ns)}).",
                           prob=prob, position_m=np.asarray(s.position_m), place_id=s.place_id, room_id=s.room_id,
                           time_ns=s.stamp_ns, evidence=ev))
    opts.sort(key=lambda o: -o.prob)
    return Decision(opts, why, ev)


def _where_during(ctx: Ctx, start: int, end: int, gap: int, label: str) -> Decision:
    cfg = ctx.cfg.pose_history
    trail = _read(ctx, start - gap, end + gap)
    rt = room_times(trail, start, end, gap)
    when = label or f"between {fmt_time(start)} and {fmt_time(end)}"
    if rt.covered_ns <= 0:
        lone = [p for p in trail if start <= p.stamp_ns <= end]
        if len(lone) == 1:             # one lone pose: that is where it was, once
            return _where_at_instant(ctx, lone[0].stamp_ns, _ns(cfg.tolerance_s), gap, label)
        return Decision([], f"I have no pose record {when}; {_nearest_record(ctx, (start + end) // 2)}")
    ranked = sorted(rt.per_room_ns.items(), key=lambda kv: -kv[1])
    total = float(rt.covered_ns)
    inside = [p for p in trail if start <= p.stamp_ns <= end]
    active = rt.last_ns - rt.first_ns if rt.last_ns > rt.first_ns else rt.covered_ns
    coverage = min(1.0, total / max(1, active))

    def where(r: int) -> str:
        return ctx.room_text(r) if r >= 0 else "outside every room"
    parts = [f"{where(r)} ({fmt_duration(ns)})" for r, ns in ranked]
    text = (f"{(when or 'then').capitalize()} I was mostly in {where(ranked[0][0])}: " + ", ".join(parts)
            + f", of the {fmt_duration(total)} I have a pose record for.")
    opts = []
    for i, (r, ns) in enumerate(ranked):
        in_room = [x for x in inside if x.room_id == r]
        p = in_room[-1] if in_room else None
        # the breakdown is the answer (as sure as the trail's cover of the robot's active time); the other
        # rooms are listed with their share of the time
        prob = cfg.confidence * (0.5 + 0.5 * coverage) if i == 0 else cfg.confidence * ns / total
        opts.append(Option(label=f"room:{r}", text=text if i == 0 else f"{where(r)} ({fmt_duration(ns)})", prob=prob,
                           position_m=None if p is None else np.asarray(p.position_m),
                           place_id=-1 if p is None else p.place_id, room_id=r,
                           time_ns=0 if p is None else p.stamp_ns, evidence=_evidence(in_room)))
    return Decision(opts, f"time per room by the pose trail ({coverage:.0%} of the active time has a record)",
                    _evidence(inside))


# ------------------------------------------------------------------------------------- last in
def last_in(ctx: Ctx) -> Decision:
    q, cfg = ctx.query, ctx.cfg.pose_history
    gap = _ns(cfg.max_gap_s)
    rooms = ctx.room_ids(q.room)
    if not rooms:
        return Decision([], f"memory has no room labelled {q.room}, so I cannot tell when I was there")
    end = q.window.end_ns if q.window and q.window.end_ns is not None else ctx.now_ns
    start = q.window.start_ns if q.window else None
    best = None
    for r in rooms:
        got = _read(ctx, start, end, room_id=r, limit=2000)
        vs = visits(got, {r}, gap)
        if vs and (best is None or vs[-1].end_ns > best.end_ns):
            best = vs[-1]
    if best is None:
        span = f" {q.window.label}" if q.window and q.window.label else ""
        return Decision([], f"I have no pose record in {ctx.room_text(rooms[0])}{span}")
    latest = _read(ctx, None, end, limit=1)
    here_now = (q.window is None and bool(latest) and latest[-1].room_id in rooms
                and ctx.now_ns - latest[-1].stamp_ns <= _ns(cfg.tolerance_s))
    last = best.samples[-1]
    where = ctx.where_text(last.room_id, last.place_id, last.position_m)
    if here_now:
        text = f"I am {where} now (since {fmt_time(best.start_ns)})."
    elif best.duration_ns > 0:
        text = (f"I was last {where} on {fmt_time(best.end_ns)} (there from {fmt_time(best.start_ns)}, "
                f"{fmt_duration(best.duration_ns)}).")
    else:
        text = f"I was last {where} on {fmt_time(best.end_ns)} (one pose there)."
    ev = _evidence(best.samples)
    opt = Option(label=f"time:{best.end_ns}", text=text, prob=cfg.confidence, position_m=np.asarray(last.position_m),
                 place_id=last.place_id, room_id=last.room_id, time_ns=best.end_ns, evidence=ev)
    return Decision([opt], f"latest visit: {len(best.samples)} pose(s) there, no gap over {fmt_duration(gap)}", ev)


# ------------------------------------------------------------------------------------- time in
def time_in(ctx: Ctx) -> Decision:
    q, cfg = ctx.query, ctx.cfg.pose_history
    gap = _ns(cfg.max_gap_s)
    rooms = set(ctx.room_ids(q.room))
    if not rooms:
        return Decision([], f"memory has no room labelled {q.room}, so I cannot tell how long I was there")
    w = q.window
    today = day_start_ns(ctx.now_ns, ctx.cfg.parser.calendar)
    start = w.start_ns if w is not None and w.start_ns is not None else today
    end = min(w.end_ns if w is not None and w.end_ns is not None else ctx.now_ns, ctx.now_ns)
    when = "today" if w is None else (w.label or f"between {fmt_time(start)} and {fmt_time(end)}")
    if end < start:
        return Decision([], f"{when} has not begun yet")
    trail = _read(ctx, start - gap, end + gap)
    rt = room_times(trail, start, end, gap)
    if rt.covered_ns <= 0:
        return Decision([], f"I have no pose record {when}; {_nearest_record(ctx, end)}")
    spent = rt.of(rooms)
    active = max(1, rt.last_ns - rt.first_ns) if rt.last_ns > rt.first_ns else rt.covered_ns
    coverage = min(1.0, rt.covered_ns / active)
    vs = [v for v in visits(trail, rooms, gap) if v.end_ns >= start and v.start_ns <= end]
    room = ctx.room_text(sorted(rooms)[0])
    record = (f"my pose record covers {fmt_duration(rt.covered_ns)} of it, "
              f"{fmt_time(rt.first_ns)} to {fmt_time(rt.last_ns)}" if rt.first_ns >= 0 else
              f"my pose record covers {fmt_duration(rt.covered_ns)} of it")
    if spent <= 0:
        text = f"I was not in {room} {when} ({record})."
    else:
        text = (f"I spent about {fmt_duration(spent)} in {room} {when}, in {len(vs)} visit(s) "
                f"({record}).")
    cited = [p for v in vs for p in (v.samples[0], v.samples[-1])] or \
        [p for p in trail if start <= p.stamp_ns <= end][:1]
    ev = _evidence(sorted(cited, key=lambda p: p.stamp_ns))
    last = vs[-1].samples[-1] if vs else None
    opt = Option(label=f"duration:{int(spent // NS_PER_MIN)}", text=text,
                 prob=cfg.confidence * (0.5 + 0.5 * coverage),
                 position_m=None if last is None else np.asarray(last.position_m),
                 place_id=-1 if last is None else last.place_id, room_id=sorted(rooms)[0],
                 time_ns=0 if last is None else vs[-1].end_ns, count=-1, evidence=ev)
    return Decision([opt], f"time by the gap rule (poses at most {fmt_duration(gap)} apart count; "
                           f"{coverage:.0%} of the active time has a record)", ev)
