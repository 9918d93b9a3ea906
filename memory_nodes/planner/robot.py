"""Answers about the robot's own travel, from memory's pose trail (MemoryView.robot_poses).

    robot_where_at  "where were you at 3 pm?"  the pose nearest that time (within pose_history.tolerance_s);
                    "... this morning?"         the rooms it spent that time in, most first;
                    "where are you?"            its latest pose
    robot_last_in   "when were you last in the kitchen?"   its latest visit there (start, end)
    robot_time_in   "how long were you in the kitchen (today)?"   time there by the gap rule; today if no time
    robot_passed    "what did you pass on your way (from the hallway) to the kitchen?"   the latest trip there
                    (common/trajectory.py's trip rule) and the objects memory observed during it
                    (MemoryView.seen_between), in the order seen, with the rooms driven through

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

from ..common.protocols import Evidence, HistorySpan, PoseSample, stack_evidence
from ..common.trajectory import Trip, pose_at, room_times, trip_to, visits
from .context import Ctx, Decision, Option
from .recall import fmt_time
from .timephrase import NS_PER_S, day_start_ns, to_datetime

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


# ------------------------------------------------------------------------------------- passed on the way
_LISTED_OBJECTS = 15                 # objects named in a route answer at most (the rest counted)


def passed(ctx: Ctx) -> Decision:
    """What the robot passed on its latest trip to a room (from an origin room if asked): the trip by the
    trip rule, the objects observed between leaving and arriving, in the order first seen."""
    q, cfg = ctx.query, ctx.cfg.pose_history
    gap, stay, horizon = _ns(cfg.max_gap_s), _ns(cfg.min_stay_s), _ns(cfg.trip_horizon_s)
    dest = ctx.room_ids(q.room)
    if not dest:
        return Decision([], f"memory has no room labelled {q.room}, so I cannot tell what I passed on the way there")
    origin = ctx.room_ids(q.origin_room) if q.origin_room else None
    if origin is not None and not origin:
        return Decision([], f"memory has no room labelled {q.origin_room}")
    w = q.window
    lo = w.start_ns if w is not None else None
    hi = min(w.end_ns if w is not None and w.end_ns is not None else ctx.now_ns, ctx.now_ns)
    span = f" {w.label}" if w is not None and w.label else ""
    to_text = ctx.room_text(dest[0]) + (f" from {ctx.room_text(origin[0])}" if origin else "")
    trip = _latest_trip(ctx, set(dest), None if origin is None else set(origin), lo, hi, gap, stay, horizon)
    if trip is None:
        return Decision([], f"I have no record of a trip to {to_text}{span}")
    if len(trip.samples) < 2:            # the record starts in the destination: nothing of the way there
        return Decision([], f"I have no pose record of my way to {ctx.room_text(trip.dest_room_id)}: my record "
                            f"starts there, {fmt_time(trip.end_ns)}, after a gap", _evidence(trip.samples))
    seen = ctx.memory.seen_between(trip.start_ns, trip.end_ns)
    seen = sorted(seen, key=lambda h: (h.start_ns, h.object_id))
    via = [ctx.room_text(r) if r >= 0 else "outside every room" for r in trip.rooms_passed()]
    left = (f"I left {ctx.room_text(trip.origin_room_id)} at {fmt_time(trip.start_ns)}" if trip.complete else
            f"my pose record starts at {fmt_time(trip.start_ns)}, before that I have no record of where I came from")
    route = (f"On my way to {ctx.room_text(trip.dest_room_id)} ({left}, arrived at {_clock(trip.end_ns)}, "
             f"{fmt_duration(trip.end_ns - trip.start_ns)}" + (f", through {', '.join(via)}" if via else "") + ")")
    if seen:
        named = [_seen_text(ctx, h) for h in seen[:_LISTED_OBJECTS]]
        more = f" and {len(seen) - _LISTED_OBJECTS} more" if len(seen) > _LISTED_OBJECTS else ""
        text = f"{route} I saw {', '.join(named)}{more}."
    else:
        text = f"{route} I saw nothing I recognise."
    ev = _evidence(trip.samples).merged(stack_evidence([h.evidence for h in seen]))
    # the route is as sure as the room cut (less when its start is not on record); the objects are what
    # memory observed in that time, each with its observations
    prob = cfg.confidence * (1.0 if trip.complete else 0.6)
    opt = Option(label=f"trip:{trip.start_ns}", text=text, prob=prob, room_id=trip.dest_room_id,
                 place_id=trip.samples[-1].place_id, position_m=np.asarray(trip.samples[-1].position_m),
                 time_ns=trip.end_ns, items=[h.object_id for h in seen], evidence=ev)
    why = (f"latest trip by the pose trail: {len(trip.samples)} pose(s), no gap over {fmt_duration(gap)}; "
           f"{len(seen)} object(s) observed on the way")
    return Decision([opt], why, ev)


def _seen_text(ctx: Ctx, h: HistorySpan) -> str:
    where = ctx.room_text(h.room_id) if h.room_id >= 0 else "outside every room"
    name = h.class_name.replace("_", " ")
    return f"{'an' if name[:1] in 'aeiou' else 'a'} {name} ({where}, {_clock(h.start_ns)})"


def _clock(t_ns: int) -> str:
    return to_datetime(t_ns).strftime("%H:%M:%S")


def _latest_trip(ctx: Ctx, dest: set, origin: Optional[set], lo: Optional[int], hi: int, gap: int, stay: int,
                 horizon: int) -> Optional[Trip]:
    """The latest trip arriving in [lo, hi]: the trail over ``horizon`` before the last pose in the
    destination, read further back while the trip's start is the read's edge; no trip there, the same from
    the last pose in the destination before it (a few reads at most)."""
    end, h = hi, horizon
    for _ in range(6):
        last = [p for r in dest for p in _read(ctx, lo, end, room_id=r, limit=1)]
        if not last:
            return None
        t = max(p.stamp_ns for p in last)
        trail = _read(ctx, t - h, t)
        trip = trip_to(trail, dest, gap, stay, origin, lo, t)
        at_edge = (trip is None and all(p.room_id in dest for p in trail)) or (
            trip is not None and not trip.complete and trip.samples[0] is trail[0])
        if at_edge:
            before = _read(ctx, None, trail[0].stamp_ns - 1, limit=1)
            joined = bool(before) and trail[0].stamp_ns - before[-1].stamp_ns <= gap
            if joined and len(trail) < ctx.cfg.pose_history.max_poses:
                h *= 4                    # the trail goes on before the read: read further back
                continue
        if trip is not None:
            return trip
        end = t - h
        if lo is not None and end < lo:
            return None
    return None
