"""Present-tense beliefs from memory: last observations, the staleness model, absence records and the
habit / room prior learned from history; and their conversion to candidate answers.

* where_now / did_move -> LocationBelief (one target, exclusive locations, plus "gone").
* exists / count / what_on -> SlotBelief (independent presence slots).
"""
from __future__ import annotations

import re
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..common.protocols import Evidence, Sighting, stack_evidence
from . import query as Q
from .belief import Hyp, LocationBelief, SlotBelief, poisson_binomial
from .context import NS_PER_DAY, Ctx, Option
from .recall import _near_receptacle, fmt_time, receptacle_positions

_NOWHERE = np.array([np.nan, np.nan, np.nan])
_STILL = re.compile(r"\bstill\b", re.IGNORECASE)


def stay_model(ctx: Ctx, s: Sighting) -> float:
    """The staleness model's P(the track is still where it was last seen), with absence records."""
    bel = ctx.cfg.belief
    p = float(ctx.memory.p_still_there(s.object_id, ctx.now_ns)) if bel.use_staleness else 1.0
    if bel.use_absences and (not bel.absences_in_staleness or not bel.use_staleness):
        miss = ctx.cfg.detector.miss_rate
        for _ in ctx.memory.absences(s.object_id, since_ns=s.last_seen_ns + 1):
            p = p * miss / (p * miss + (1.0 - p)) if p > 0 else 0.0
    return float(min(1.0, max(0.0, p)))


def stay_probs(ctx: Ctx, s: Sighting) -> Tuple[float, float]:
    """(the staleness model's P(still there), that through the planner's online map): the map is refitted
    from what the planner's looks verified (``Ctx.stay_map``); without one both are the model's."""
    p = stay_model(ctx, s)
    m = ctx.stay_map
    return p, (p if m is None or not ctx.cfg.belief.use_staleness else float(m.apply(p)))


def still_there(ctx: Ctx, s: Sighting) -> float:
    """P(the track is still where it was last seen), as the belief uses it (``stay_probs``)."""
    return stay_probs(ctx, s)[1]


def _seen_hyp(ctx: Ctx, s: Sighting, prob: float, p_model: float, label: str = "") -> Hyp:
    return Hyp(np.asarray(s.position_m, dtype=float), s.place_id, s.room_id, prob, label, s.class_name,
               s.object_id, "seen", s.last_seen_ns, s.evidence, s.receptacle, p_stay_model=p_model)


def place_prior(ctx: Ctx, exclude: List[np.ndarray]) -> Dict[int, Tuple[float, np.ndarray]]:
    """Where a moved target goes: place -> (weight summing to 1, position). Habits from history of the
    class, the vocabulary's usual rooms, and a uniform floor; positions of current sightings excluded."""
    bel = ctx.cfg.belief
    places = ctx.places
    if not places:
        return {}
    r = ctx.cfg.detector.match_radius_m
    habit: Dict[int, float] = defaultdict(float)
    habit_pos: Dict[int, np.ndarray] = {}
    if bel.use_habits:
        for s in ctx.memory.history(ctx.query.target, end_ns=ctx.now_ns):
            pos = np.asarray(s.position_m, dtype=float)
            if any(float(np.linalg.norm(pos[:2] - e[:2])) <= r for e in exclude):
                continue
            if s.place_id in places:
                habit[s.place_id] += 1.0
                habit_pos.setdefault(s.place_id, pos)
    usual = set()
    if ctx.vocab is not None and hasattr(ctx.vocab, "usual_rooms"):
        usual = set(ctx.vocab.usual_rooms(ctx.query.target))
    room_pl = [pid for pid, p in places.items() if ctx.room_label(p.room_id) in usual]
    w_h = bel.habit_weight if habit else 0.0
    w_r = bel.room_prior_weight if room_pl else 0.0
    w_u = 1.0 - w_h - w_r
    n = len(places)
    hsum = sum(habit.values()) or 1.0
    out: Dict[int, Tuple[float, np.ndarray]] = {}
    for pid, p in places.items():
        w = w_u / n + w_h * habit.get(pid, 0.0) / hsum + (w_r / len(room_pl) if pid in room_pl else 0.0)
        out[pid] = (w, habit_pos.get(pid, np.asarray(p.position_m, dtype=float)))
    return out


# --------------------------------------------------------------------------------- where / moved
def where_label(ctx: Ctx, room_id: int, place_id: int) -> str:
    """The answer a location hypothesis stands for: its room (or its place, by answer_granularity). Outside
    every segmented room the place: "room -1" would lump every unsegmented spot into one answer."""
    if ctx.cfg.explore.answer_granularity == "room" and room_id >= 0:
        return f"room:{room_id}"
    return f"place:{place_id}"


def location_belief(ctx: Ctx) -> Tuple[LocationBelief, str]:
    """Belief over where the target is now, and a sentence on what it rests on."""
    bel = ctx.cfg.belief
    tracks = ctx.sightings()
    probs = [stay_probs(ctx, s) for s in tracks]
    seen: List[Tuple[float, Sighting]] = [(p, s) for (_, p), s in zip(probs, tracks)]
    hyps: List[Hyp] = []
    if seen:
        stay = 1.0 - float(np.prod([1.0 - p for p, _ in seen]))
        psum = sum(p for p, _ in seen) or 1.0
        for (pm, p), s in zip(probs, tracks):
            hyps.append(_seen_hyp(ctx, s, stay * p / psum, pm, where_label(ctx, s.room_id, s.place_id)))
        moved = 1.0 - stay
        p_gone = moved * bel.p_gone_if_moved
        s0 = seen[0][1]
        why = (f"last seen {fmt_time(s0.last_seen_ns)} "
               f"{ctx.where_text(s0.room_id, s0.place_id, s0.position_m, s0.receptacle)}; "
               f"P(still there) {seen[0][0]:.2f}")
    else:
        moved = 1.0
        p_gone = bel.p_absent_if_never_seen
        why = (f"never seen a {ctx.query.target}: no observation supports any location, so the best guess "
               f"is only a prior (where a {ctx.query.target} would usually be)")
    diffuse = moved - p_gone if seen else 1.0 - p_gone
    if diffuse > 0:
        prior = place_prior(ctx, [np.asarray(s.position_m, dtype=float) for _, s in seen])
        for pid, (w, pos) in prior.items():
            place = ctx.places[pid]     # a habit's spot may lie in another room than its place: name the spot's
            room = place.room_id if np.array_equal(pos[:2], place.position_m[:2]) else ctx.room_at(pos, place.room_id)
            hyps.append(Hyp(pos, pid, room, diffuse * w, where_label(ctx, room, pid), ctx.query.target, "",
                            "prior"))
    else:
        p_gone += max(0.0, diffuse)
    return LocationBelief(hyps, p_gone), why


def location_reason(ctx: Ctx, b: LocationBelief, why: str) -> str:
    """The belief's reason after looking: a target memory never saw but a look found says so."""
    if any(h.source == "found" for h in b.hyps) and not any(h.source == "seen" for h in b.hyps):
        return f"not in memory (never seen a {ctx.query.target} before); found it by looking"
    return why


def location_options(ctx: Ctx, b: LocationBelief) -> List[Option]:
    lp = b.label_probs()
    # an answer rests on evidence when some hypothesis does (a stored sighting or a look that found it);
    # a belief of prior hypotheses only (never seen, not found) guesses
    grounded = any(h.source != "prior" for h in b.hyps)
    best_hyp: Dict[str, Tuple[float, Hyp]] = {}
    for h, p in zip(b.hyps, b.p):
        cur = best_hyp.get(h.label)
        if cur is None or p > cur[0]:
            best_hyp[h.label] = (float(p), h)
    out = []
    for label, p in sorted(lp.items(), key=lambda kv: -kv[1]):
        h = best_hyp[label][1]
        if ctx.query.kind == Q.DID_MOVE:
            yes = label == "yes"
            out.append(Option(label=label, text=label, prob=p, yes_no=yes, evidence=h.evidence, grounded=grounded))
            continue
        ev = stack_evidence([x.evidence for x in b.hyps if x.label == label and x.source != "prior"])
        out.append(Option(label=label, text=ctx.where_text(h.room_id, h.place_id, h.position_m, h.receptacle)
                          + (f" (seen {fmt_time(h.last_seen_ns)})" if h.last_seen_ns else ""), prob=p,
                          position_m=h.position_m, place_id=h.place_id, room_id=h.room_id,
                          object_id=h.object_id, time_ns=h.last_seen_ns, evidence=ev, grounded=grounded))
    return out


def moved_belief(ctx: Ctx) -> Tuple[Optional[LocationBelief], str]:
    """did X move since T: "no" iff it is now where it was at T (or first seen after T)."""
    q = ctx.query
    start = q.window.start_ns if q.window and q.window.start_ns is not None else ctx.now_ns
    tracks = ctx.sightings()
    if not tracks:
        return None, f"I have never seen a {q.target}"
    origin = None
    for s in tracks:
        at = ctx.memory.where_at(s.object_id, start)
        if at is not None:
            origin = at
            break
    if origin is None:
        spans = sorted(ctx.memory.history(q.target, start_ns=start, end_ns=ctx.now_ns), key=lambda s: s.start_ns)
        if not spans:
            return None, f"no sighting of a {q.target} since then"
        origin = spans[0]
    opos = np.asarray(origin.position_m, dtype=float)
    b, _ = location_belief(ctx)
    r = ctx.cfg.detector.match_radius_m
    for h in b.hyps:
        h.label = "no" if float(np.linalg.norm(h.position_m[:2] - opos[:2])) <= r else "yes"
    moved_events = [e for e in ctx.memory.changes(start_ns=start, end_ns=ctx.now_ns)
                    if e.class_name == q.target and e.kind in ("moved", "disappeared")]
    if moved_events:            # memory saw it move: "no" needs it to have come back and that be missed
        b.p = np.where([h.label == "no" for h in b.hyps], b.p * 0.1, b.p)
    gone = Hyp(_NOWHERE.copy(), -1, -1, b.p_gone, "yes", q.target, "", "gone")
    b.hyps.append(gone)
    b.p = np.append(b.p, b.p_gone)
    b.p_gone = 0.0
    b.p = b.p / b.p.sum()
    b.relabel()
    why = f"at {fmt_time(start)} it was {ctx.where_text(origin.room_id, origin.place_id, origin.position_m)}"
    if moved_events:
        why += f"; memory recorded it {moved_events[-1].kind} at {fmt_time(moved_events[-1].stamp_ns)}"
    return b, why


# ------------------------------------------------------------------------------ exists / count
def instances_seen_at_once(ctx: Ctx, tracks: List[Sighting]) -> int:
    """The most of these tracks memory saw on one day: how many instances of the class the home holds at
    least, and, while no day showed more, at most as memory knows them. Tracks beyond it that went stale are
    mostly one thing memory lost and found again as a new track (moved where identity did not follow)."""
    ids = {s.object_id for s in tracks}
    days: Dict[int, set] = defaultdict(set)
    for h in ctx.memory.history(ctx.query.target, end_ns=ctx.now_ns):
        if h.object_id in ids:
            for d in range(int(h.start_ns // NS_PER_DAY), int(h.end_ns // NS_PER_DAY) + 1):
                days[d].add(h.object_id)
    return max((len(v) for v in days.values()), default=len(tracks))


def moved_scale(ctx: Ctx, tracks: List[Sighting], p_stay: List[float]) -> float:
    """Factor on each track's P(moved, still in the home) so that the instances the tracks stand for, in
    expectation, are no more than memory ever saw at once (``instances_seen_at_once``): a stale track whose
    object memory already holds under a newer track is not a further instance somewhere else."""
    if len(tracks) <= 1:
        return 1.0
    bel = ctx.cfg.belief
    n = instances_seen_at_once(ctx, tracks)
    stay = float(sum(p_stay))
    moved = float(sum((1.0 - p) * (1.0 - bel.p_gone_if_moved) for p in p_stay))
    if moved <= 0 or stay + moved <= n:
        return 1.0
    return max(0.0, n - stay) / moved


def _region_rooms(ctx: Ctx) -> Optional[set]:
    return set(ctx.room_ids(ctx.query.room)) if ctx.query.room else None


def _in_region(ctx: Ctx, pos: np.ndarray, room_id: int, rooms: Optional[set]) -> bool:
    if rooms is not None and room_id not in rooms:
        return False
    if ctx.query.receptacle and not _near_receptacle(ctx, pos, room_id):
        return False
    return True


def same_room_share(ctx: Ctx) -> float:
    """P(a thing of the target class that left its spot is still in the same room): the posterior mean of
    the share of this class's moves memory saw (one track's consecutive stays, both in a known room) that
    stayed in their room, with ``belief.same_room_prior_*`` (Beta pseudo-counts) as the prior. Things are
    mostly put away where they are used, so a missing toy is more likely still in the kids' room than in
    any one other room; the robot's own record says how much more."""
    a, b = ctx.cfg.belief.same_room_prior_same, ctx.cfg.belief.same_room_prior_other
    by_obj: Dict[str, List] = defaultdict(list)
    for h in ctx.memory.history(ctx.query.target, end_ns=ctx.now_ns):
        by_obj[h.object_id].append(h)
    same = moves = 0
    for spans in by_obj.values():
        spans.sort(key=lambda s: s.start_ns)
        for x, y in zip(spans, spans[1:]):
            if x.room_id >= 0 and y.room_id >= 0:
                moves += 1
                same += int(x.room_id == y.room_id)
    return float((same + a) / (moves + a + b))


def presence_slots(ctx: Ctx) -> Tuple[List[Hyp], str]:
    """Slots an instance of the target class may occupy in the asked region (room / receptacle)."""
    bel = ctx.cfg.belief
    q = ctx.query
    rooms = _region_rooms(ctx)
    whole_home = rooms is None and not q.receptacle
    slots: List[Hyp] = []
    moved_mass: List[float] = []
    own_moved: List[float] = []          # per seen slot in the region: P(it moved, still in the home)
    tracks = ctx.sightings()
    probs = [stay_probs(ctx, s) for s in tracks]
    scale = moved_scale(ctx, tracks, [p for _, p in probs])
    for s, (pm, p) in zip(tracks, probs):
        pos = np.asarray(s.position_m, dtype=float)
        moved = (1.0 - p) * (1.0 - bel.p_gone_if_moved) * scale       # P(moved, still in the home)
        if whole_home:
            slots.append(_seen_hyp(ctx, s, p + moved, pm))
        elif _in_region(ctx, pos, s.room_id, rooms):
            slots.append(_seen_hyp(ctx, s, p, pm))
            own_moved.append(moved)
        else:
            moved_mass.append(moved)
    # where a moved instance or an unseen one could be: places (or receptacles) of the region
    if not whole_home:
        if q.receptacle:
            spots = [(pos, -1, room) for pos, room in receptacle_positions(ctx) if rooms is None or room in rooms]
        else:
            assert rooms is not None        # not the whole home and no receptacle: a room was asked
            spots = [(np.asarray(p.position_m, dtype=float), pid, p.room_id) for pid, p in ctx.places.items()
                     if p.room_id in rooms]
        if spots:
            prior = place_prior(ctx, [s.position_m for s in slots])
            total_w = sum(w for w, _ in prior.values()) or 1.0
            region_w = sum(prior.get(pid, (0.0, None))[0] for _, pid, _ in spots) / total_w if spots[0][1] >= 0 \
                else len(spots) / max(1, len(ctx.places))
            # a thing seen in the region that moved may have moved within it: it still counts there (its slot
            # stands for the thing, wherever in the region; moved elsewhere, it is another room's). Within a
            # room that is the class's learned same-room share, else the place prior's share of the region
            stay_in = region_w
            if own_moved and not q.receptacle and bel.same_room_prior_same + bel.same_room_prior_other > 0:
                r_same = same_room_share(ctx)
                stay_in = r_same + (1.0 - r_same) * region_w
            for h, m in zip(slots, own_moved):
                h.prob = h.prob + m * stay_in
            # "is my mug still on the table": the question is about the thing memory saw there; an instance
            # memory never saw that happens to be there too does not make it "still" there
            about_seen = bool(own_moved) and _STILL.search(q.text or "") is not None
            for pos, pid, room in spots:
                share = region_w / len(spots)
                q_moved = 1.0 - float(np.prod([1.0 - m * share for m in moved_mass])) if moved_mass else 0.0
                q_unseen = 0.0 if about_seen else bel.unseen_instance_rate / len(spots)
                qq = 1.0 - (1.0 - q_moved) * (1.0 - q_unseen)
                slots.append(Hyp(pos, pid, room, qq, "", q.target, "", "prior",
                                 half_extent_m=0.5 * bel.receptacle_radius_m if pid < 0 else 0.0))
        elif not any(h.source == "seen" for h in slots):
            # memory has no place of the asked room (a room it never segmented or labelled so) and no
            # sighting there: that is ignorance, not evidence of absence (a certain "no" / "0" was wrong
            # whenever the room was merely unknown by that name)
            slots.append(Hyp(_NOWHERE.copy(), -1, -1, 1.0 - bel.p_absent_if_never_seen, "", q.target, "",
                             "prior"))
    n_seen = sum(1 for s in slots if s.source == "seen")
    where = f" in the {q.room}" if q.room else ""
    where += f" {q.relation or 'on'} the {q.receptacle}" if q.receptacle else ""
    return slots, f"{n_seen} remembered {q.target}(s){where}"


def exists_fn(q: np.ndarray) -> Tuple[Dict[str, float], float]:
    p_yes = 1.0 - float(np.prod(1.0 - q)) if q.size else 0.0
    return {"yes": p_yes, "no": 1.0 - p_yes}, max(p_yes, 1.0 - p_yes)


def count_fn(q: np.ndarray) -> Tuple[Dict[str, float], float]:
    pmf = poisson_binomial(q)
    order = np.argsort(-pmf)[:4]
    return {f"count:{int(k)}": float(pmf[k]) for k in order}, float(pmf[order[0]])


def make_what_on_fn(classes: List[str], p_unseen: float = 0.0):
    """what is on Y: per class P(some instance there); the answer lists classes with P >= 0.5. Utility is
    per item: P(correct) = mean over classes of P(that class is rightly in / out of the list). Nothing
    remembered there answers "nothing" with 1 - ``p_unseen`` (something memory never saw there may be)."""
    idx: Dict[str, List[int]] = defaultdict(list)
    for i, c in enumerate(classes):
        idx[c].append(i)
    names = sorted(idx)

    def fn(q: np.ndarray) -> Tuple[Dict[str, float], float]:
        if not names:
            return {"set:": 1.0 - p_unseen}, 1.0 - p_unseen
        pc = {c: 1.0 - float(np.prod(1.0 - q[idx[c]])) for c in names}
        chosen = sorted(c for c in names if pc[c] >= 0.5)
        score = float(np.mean([max(pc[c], 1.0 - pc[c]) for c in names]))
        return {"set:" + ",".join(chosen): score}, score
    # the per-class probabilities ride on the answer function for the caller that lists them
    fn.class_probs = lambda q: {c: 1.0 - float(np.prod(1.0 - q[idx[c]])) for c in names}  # type: ignore[attr-defined]
    return fn


def what_on_slots(ctx: Ctx) -> Tuple[List[Hyp], str]:
    q = ctx.query
    rooms = _region_rooms(ctx)
    from .recall import _on_receptacle
    items = _on_receptacle(ctx, ctx.memory.objects_in(t_ns=ctx.now_ns), rooms)
    slots = [_seen_hyp(ctx, s, p, pm) for s in items for pm, p in [stay_probs(ctx, s)]]
    where = f"{q.relation or 'on'} the {q.receptacle}" if q.receptacle else f"in the {q.room}"
    return slots, f"{len(slots)} remembered object(s) {where}"


def slot_belief(ctx: Ctx) -> Tuple[SlotBelief, str]:
    kind = ctx.query.kind
    if kind == Q.WHAT_ON:
        slots, why = what_on_slots(ctx)
        return SlotBelief(slots, make_what_on_fn([s.class_name for s in slots],
                                                 ctx.cfg.belief.unseen_instance_rate)), why
    slots, why = presence_slots(ctx)
    return SlotBelief(slots, exists_fn if kind == Q.EXISTS else count_fn), why


def slot_options(ctx: Ctx, b: SlotBelief) -> List[Option]:
    kind = ctx.query.kind
    seen_ev = stack_evidence([s.evidence for s, qq in zip(b.slots, b.q) if qq >= 0.5 and s.source != "prior"])
    out: List[Option] = []
    if kind == Q.EXISTS:
        probs, _ = exists_fn(b.q)
        best_slot = None
        if b.slots:
            i = int(np.argmax(b.q))
            best_slot = b.slots[i]
        for label, p in sorted(probs.items(), key=lambda kv: -kv[1]):
            yes = label == "yes"
            o = Option(label=label, text=label, prob=p, yes_no=yes, evidence=seen_ev if yes else Evidence())
            if yes and best_slot is not None:
                o.position_m, o.place_id, o.room_id = best_slot.position_m, best_slot.place_id, best_slot.room_id
            out.append(o)
    elif kind == Q.COUNT:
        probs, _ = count_fn(b.q)
        for label, p in sorted(probs.items(), key=lambda kv: -kv[1]):
            n = int(label.split(":")[1])
            out.append(Option(label=label, text=str(n), prob=p, count=n, evidence=seen_ev))
    else:
        fn = b.answer_fn
        probs, score = fn(b.q)
        label = next(iter(probs))
        items = [c for c in label[4:].split(",") if c]
        out.append(Option(label=label, text=", ".join(items) if items else "nothing", prob=score, items=items,
                          count=len(items), evidence=seen_ev))
    return out
