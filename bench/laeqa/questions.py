"""The question generator: LA-EQA categories x kinds, asked at chosen moments, with exact ground truth.

Categories (LA-EQA): present, past, multi_past (habits), past_present (change), past_present_future
(forecast), plus out_of_scope questions whose right reply is CANNOT_PARSE. Each category has several
kinds (below); the kinds come from the categories, not from what the planner supports -- a kind the
planner cannot parse counts as wrong. Truth comes from the simulator's ground-truth log (and, for the
robot-centric kinds such as "when did you last see X", from the patrol's true visibility index).

Deterministic: one numpy Generator seeded from (home seed, question index) drives every choice.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from sim.calendar import NS_PER_DAY, NS_PER_S

from .config import CATEGORIES, GeneratorConfig
from .phrasing import PhrasingPool, clock_text, plural
from .truth import NS_PER_H, HomeTruth, day_part_window

# Benchmark kinds per category.
KINDS: Dict[str, Tuple[str, ...]] = {
    "present": ("where_now", "exists_now", "exists_on_now", "count_now", "what_on_now", "attribute"),
    "past": ("where_at", "last_seen", "since_when", "exists_past", "count_past"),
    "multi_past": ("where_usually", "days_seen_in"),
    "past_present": ("did_move", "still_there", "what_changed"),
    "past_present_future": ("when_next", "which_first", "will_be_there"),
    "out_of_scope": ("oos_device", "oos_material", "oos_affordance"),
}
CATEGORY_OF = {k: c for c, ks in KINDS.items() for k in ks}

# The planner's query kinds a correct parse has (None: no planner kind covers it -> counts as wrong).
EXPECTED_PLANNER_KINDS: Dict[str, Optional[Tuple[str, ...]]] = {
    "where_now": ("where_now",), "exists_now": ("exists",), "exists_on_now": ("exists",),
    "count_now": ("count",), "what_on_now": ("what_on",), "attribute": ("attribute",),
    "where_at": ("where_at",), "last_seen": ("last_seen",), "since_when": ("since_when",),
    "exists_past": ("exists",), "count_past": ("count",), "where_usually": ("where_usually",),
    "days_seen_in": ("days_seen",), "did_move": ("did_move",), "still_there": ("exists",),
    "what_changed": ("what_changed",), "when_next": ("when_next",), "which_first": ("which_first",),
    "will_be_there": ("will_be",), "oos_device": ("cannot_parse",), "oos_material": ("cannot_parse",),
    "oos_affordance": ("cannot_parse",),
}

# Kinds whose answer depends on the world now (looking can help); the rest are fixed by the past.
PRESENT_STATE_KINDS = ("where_now", "exists_now", "exists_on_now", "count_now", "what_on_now", "still_there",
                       "did_move", "what_changed")

DEVICES = ("stove", "oven", "fridge", "tv", "lights", "dishwasher", "washing machine", "kettle", "heater", "fan",
           "coffee machine", "radio")


@dataclass
class Truth:
    """The right answer. answer_type: room | yes_no | count | time | color | set | class | cannot_parse."""
    answer_type: str
    value: Any
    room_type: str = ""                          # room answers: the true room's type
    accept_range_ns: Optional[Tuple[int, int]] = None   # time answers: accepted interval
    verify_entities: List[str] = field(default_factory=list)  # seeing these now verifies the answer
    verify_rooms: List[int] = field(default_factory=list)     # looking over these rooms verifies it

    def to_json(self) -> Dict[str, Any]:
        return {"answer_type": self.answer_type, "value": self.value, "room_type": self.room_type,
                "accept_range_ns": list(self.accept_range_ns) if self.accept_range_ns else None}


@dataclass
class Question:
    qid: str
    seed: int                                    # home
    day: int                                     # day index the question is asked on
    ask_ns: int
    category: str
    kind: str
    text: str
    pool: str                                    # "dev" | "test"
    template: str
    truth: Truth
    expected: Dict[str, Any]                     # reference parse: kinds, target, room, receptacle
    slots: Dict[str, Any] = field(default_factory=dict)   # simulator-level slots (object ids, room ids)

    @property
    def present_state(self) -> bool:
        return self.kind in PRESENT_STATE_KINDS

    def to_json(self) -> Dict[str, Any]:
        return {"qid": self.qid, "seed": self.seed, "day": self.day, "ask_ns": self.ask_ns,
                "category": self.category, "kind": self.kind, "text": self.text, "pool": self.pool,
                "truth": self.truth.to_json(), "expected": self.expected}


def category_quotas(n: int, weights: Dict[str, float], min_out_of_scope: int = 0) -> Dict[str, int]:
    """Questions per category: largest remainder over normalised weights, then at least
    ``min_out_of_scope`` out-of-scope ones (taken from the largest categories)."""
    w = {c: max(0.0, float(weights.get(c, 0.0))) for c in CATEGORIES}
    tot = sum(w.values())
    raw = {c: n * v / tot for c, v in w.items()}
    q = {c: int(np.floor(v)) for c, v in raw.items()}
    rest = n - sum(q.values())
    for c in sorted(CATEGORIES, key=lambda c: (-(raw[c] - q[c]), CATEGORIES.index(c)))[:rest]:
        q[c] += 1
    need = min(min_out_of_scope, n) - q["out_of_scope"]
    while need > 0:
        donor = max((c for c in CATEGORIES if c != "out_of_scope"), key=lambda c: q[c])
        if q[donor] == 0:
            break
        q[donor] -= 1
        q["out_of_scope"] += 1
        need -= 1
    return q


class _Ctx:
    """What one question's generation needs: the truth, the moment, the pool, the generator."""

    def __init__(self, truth: HomeTruth, ask_ns: int, day: int, first_patrol_ns: int, pool: PhrasingPool,
                 rng: np.random.Generator, cfg: GeneratorConfig, tolerances_ns: Dict[str, int]):
        self.t = truth
        self.tolerances_ns = tolerances_ns
        self.ask = ask_ns
        self.day = day
        self.first_patrol = first_patrol_ns
        self.pool = pool
        self.rng = rng
        self.cfg = cfg
        self.cal = truth.calendar
        self.bad_classes = truth.colliding_classes()

    def tol(self, name: str) -> int:
        return int(self.tolerances_ns[name])

    def choice(self, seq: Sequence[Any]) -> Any:
        return seq[int(self.rng.integers(len(seq)))]

    # -- objects ----------------------------------------------------------------------------------------
    def nameable_objects(self, t_ns: Optional[int] = None, present: bool = True) -> List[str]:
        """Objects that a short phrase names unambiguously at ``t_ns``: a unique class, or a unique
        (colour, class) pair among the objects of the home."""
        out = []
        for oid, o in sorted(self.t.objects.items()):
            if o.class_name in self.bad_classes:
                continue
            if present and not self.t.state(oid, self.ask if t_ns is None else t_ns).present:
                continue
            if self.describe(oid) is not None:
                out.append(oid)
        return out

    def describe(self, oid: str) -> Optional[Tuple[str, str]]:
        """(colour or "", class) that picks out ``oid`` among all objects of the home, or None."""
        o = self.t.objects[oid]
        same = [p for p in self.t.objects.values() if self.t.canon(p.class_name) == self.t.canon(o.class_name)]
        if len(same) == 1:
            return ("", o.class_name)
        if sum(1 for p in same if p.colour == o.colour) == 1:
            return (o.colour, o.class_name)
        return None

    def obj_phrase(self, oid: str, unique_only: bool = False) -> Optional[str]:
        d = self.describe(oid)
        if d is None or (unique_only and d[0]):
            return None
        name = self.pool.name_of(d[1], self.rng)
        return f"{d[0]} {name}" if d[0] else name

    def classes_present(self) -> List[str]:
        cs = sorted({self.t.objects[o].class_name for o in self.t.present_objects(self.ask)})
        return [c for c in cs if c not in self.bad_classes]

    def room_phrase(self, room_id: int) -> str:
        return self.pool.room_name(self.t.room_type[room_id], self.rng)

    def rec_phrase(self, fid: str) -> str:
        return self.pool.name_of(self.t.world.furniture_by_id(fid).class_name, self.rng)

    def expected(self, kind: str, target: str = "", room: Optional[int] = None, rec: str = "") -> Dict[str, Any]:
        kinds = EXPECTED_PLANNER_KINDS[kind]
        return {"kinds": list(kinds) if kinds else None,
                "target": self.t.canon(target) if target else "",
                "room": self.t.canon_room(room) if room is not None else "",
                "receptacle": self.t.canon(self.t.world.furniture_by_id(rec).class_name) if rec else ""}

    # -- times ------------------------------------------------------------------------------------------
    def ask_hour(self) -> float:
        return self.cal.time_of_day_s(self.ask) / 3600.0

    def past_when(self) -> Optional[Tuple[str, int, int]]:
        """A past time phrase and its true window [start, end] (an instant has start == end) ending after
        the first patrol (before it the robot never saw the home)."""
        w = self._past_when()
        if w is None or w[2] < self.first_patrol:
            return None
        return w

    def _past_when(self) -> Optional[Tuple[str, int, int]]:
        h = self.ask_hour()
        day = self.day
        opts = []
        if h >= 8.0:
            opts.append("instant_today")
        if day >= 1:
            opts += ["instant_yesterday", "part_yesterday", "day_yesterday"]
        if h >= 12.5:
            opts.append("part_today")
        if day >= 2:
            opts.append("day_ago")
        if not opts:
            return None
        kind = self.choice(opts)
        if kind == "instant_today":
            hour = float(self.rng.integers(14, int(2 * (h - 0.5)) + 1)) / 2.0 if h - 0.5 >= 7.0 else 7.0
            t = self.cal.stamp_ns(day, hour * 3600.0)
            phrase = self.pool.time_phrase(kind, {"clock": clock_text(hour)}, self.rng)
            return phrase, t, t
        if kind == "instant_yesterday":
            hour = float(self.rng.integers(14, 45)) / 2.0
            t = self.cal.stamp_ns(day - 1, hour * 3600.0)
            phrase = self.pool.time_phrase(kind, {"clock": clock_text(hour)}, self.rng)
            return phrase, t, t
        if kind == "part_today":
            parts = ["morning"] + (["afternoon"] if h >= 18.5 else [])
            part = self.choice(parts)
            a, b = day_part_window(self.cal, day, part)
            return self.pool.time_phrase(kind, {"part": part}, self.rng), a, min(b, self.ask)
        if kind == "part_yesterday":
            part = self.choice(["morning", "afternoon", "evening"])
            a, b = day_part_window(self.cal, day - 1, part)
            return self.pool.time_phrase(kind, {"part": part}, self.rng), a, b
        if kind == "day_yesterday":
            a = self.cal.day_start_ns(day - 1)
            return self.pool.time_phrase(kind, {}, self.rng), a, a + NS_PER_DAY - 1
        n = int(self.rng.integers(2, day + 1))
        a = self.cal.day_start_ns(day - n)
        phrase = self.pool.time_phrase(kind, {"n": self.pool.number(n)}, self.rng)
        if "before yesterday" in phrase and n != 2:
            phrase = self.pool.time_phrase(kind, {"n": self.pool.number(n)}, self.rng)
            if "before yesterday" in phrase:
                return None
        return phrase, a, a + NS_PER_DAY - 1

    def since(self) -> Optional[Tuple[str, int]]:
        """A "since ..." phrase and the start it names."""
        opts = []
        if self.day >= 1:
            opts.append("yesterday")
        if self.ask_hour() >= 13.0:
            opts.append("this_morning")
        if self.day >= 2:
            opts.append("weekday")
        if not opts:
            return None
        kind = self.choice(opts)
        if kind == "yesterday":
            return self.pool.since_phrase(kind, {}, self.rng), self.cal.day_start_ns(self.day - 1)
        if kind == "this_morning":
            return self.pool.since_phrase(kind, {}, self.rng), self.cal.stamp_ns(self.day, 5 * 3600.0)
        n = int(self.rng.integers(2, min(6, self.day) + 1))
        d = self.day - n
        return (self.pool.since_phrase(kind, {"weekday": self.cal.weekday_name(d)}, self.rng),
                self.cal.day_start_ns(d))


# ------------------------------------------------------------------------------------------------------
# kind generators: (slots for the template, truth, expected parse, simulator slots) or None
# ------------------------------------------------------------------------------------------------------
Gen = Optional[Tuple[Dict[str, str], Truth, Dict[str, Any], Dict[str, Any]]]


def _where_now(c: _Ctx) -> Gen:
    oid = c.choice(c.nameable_objects() or [None])
    if oid is None:
        return None
    s = c.t.state(oid, c.ask)
    return ({"obj": c.obj_phrase(oid)},
            Truth("room", s.room_id, c.t.room_type[s.room_id], verify_entities=[oid]),
            c.expected("where_now", c.t.objects[oid].class_name), {"object_id": oid})


def _exists_now(c: _Ctx) -> Gen:
    rooms = c.t.unique_room_types()
    cls = c.choice(c.classes_present() or [None])
    if cls is None or not rooms:
        return None
    holders = sorted({c.t.room_of(o, c.ask) for o in c.t.present_objects(c.ask)
                      if c.t.canon(c.t.objects[o].class_name) == c.t.canon(cls)})
    yes = [r for r in rooms if r in holders]
    no = [r for r in rooms if r not in holders]
    want_yes = c.rng.random() < 0.5
    room = c.choice(yes if (want_yes and yes) or not no else no)
    n = c.t.count_class(cls, c.ask, room_id=room)
    inst = [o for o in c.t.objects_in_room(room, c.ask) if c.t.canon(c.t.objects[o].class_name) == c.t.canon(cls)]
    name = c.pool.name_of(cls, c.rng)
    return ({"obj": name, "objs": plural(name), "room": c.room_phrase(room)},
            Truth("yes_no", n > 0, verify_entities=inst[:1], verify_rooms=[] if n > 0 else [room]),
            c.expected("exists_now", cls, room), {"class": cls, "room_id": room})


def _exists_on_now(c: _Ctx) -> Gen:
    recs = c.t.unique_furniture()
    cls = c.choice(c.classes_present() or [None])
    if cls is None or not recs:
        return None
    holders = sorted({c.t.state(o, c.ask).furniture_id for o in c.t.present_objects(c.ask)
                      if c.t.canon(c.t.objects[o].class_name) == c.t.canon(cls)})
    yes = [f for f in recs if f in holders]
    no = [f for f in recs if f not in holders]
    fid = c.choice(yes if (c.rng.random() < 0.5 and yes) or not no else no)
    inst = [o for o in c.t.objects_on(fid, c.ask) if c.t.canon(c.t.objects[o].class_name) == c.t.canon(cls)]
    name = c.pool.name_of(cls, c.rng)
    return ({"obj": name, "objs": plural(name), "rec": c.rec_phrase(fid)},
            Truth("yes_no", bool(inst), verify_entities=inst[:1] or [fid]),
            c.expected("exists_on_now", cls, rec=fid), {"class": cls, "furniture_id": fid})


def _count_now(c: _Ctx, t_ns: Optional[int] = None) -> Gen:
    rooms = c.t.unique_room_types()
    counts: Dict[str, int] = {}
    for o in c.t.objects.values():
        if o.class_name not in c.bad_classes:
            counts[o.class_name] = counts.get(o.class_name, 0) + 1
    multi = sorted(k for k, v in counts.items() if v >= 2)
    if not multi or not rooms:
        return None
    cls = c.choice(multi)
    t = c.ask if t_ns is None else t_ns
    holders = sorted({c.t.room_of(o.object_id, t) for o in c.t.objects.values()
                      if o.class_name == cls and c.t.room_of(o.object_id, t) in rooms})
    room = c.choice(holders) if holders and c.rng.random() < 0.8 else c.choice(rooms)
    n = c.t.count_class(cls, t, room_id=room)
    inst = [o for o in c.t.objects_in_room(room, t) if c.t.canon(c.t.objects[o].class_name) == c.t.canon(cls)]
    name = c.pool.name_of(cls, c.rng)
    return ({"objs": plural(name), "obj": name, "room": c.room_phrase(room)},
            Truth("count", n, verify_entities=inst, verify_rooms=[room]),
            c.expected("count_now", cls, room), {"class": cls, "room_id": room})


def _what_on_now(c: _Ctx) -> Gen:
    recs = c.t.unique_furniture()
    full = [f for f in recs if c.t.objects_on(f, c.ask)]
    if not recs:
        return None
    fid = c.choice(full) if full and c.rng.random() < 0.85 else c.choice(recs)
    on = c.t.objects_on(fid, c.ask)
    items = sorted({c.t.canon(c.t.objects[o].class_name) for o in on})
    return ({"rec": c.rec_phrase(fid)}, Truth("set", items, verify_entities=on + [fid]),
            c.expected("what_on_now", rec=fid), {"furniture_id": fid})


def _attribute(c: _Ctx) -> Gen:
    cands = [o for o in c.nameable_objects(present=False) if c.describe(o)[0] == ""
             and c.t.seen.get(o)]
    oid = c.choice(cands or [None])
    if oid is None:
        return None
    o = c.t.objects[oid]
    return ({"obj": c.obj_phrase(oid)}, Truth("color", o.colour, verify_entities=[oid]),
            c.expected("attribute", o.class_name), {"object_id": oid})


def _where_at(c: _Ctx) -> Gen:
    w = c.past_when()
    if w is None:
        return None
    phrase, a, b = w
    objs = [o for o in c.nameable_objects(present=False)]
    for _ in range(8):
        oid = c.choice(objs)
        room = c.t.constant_over(lambda t, oid=oid: c.t.room_of(oid, t), a, b)   # called right away; bound for B023
        if room is not None and room >= 0:
            return ({"obj": c.obj_phrase(oid), "when": phrase},
                    Truth("room", room, c.t.room_type[room]),
                    c.expected("where_at", c.t.objects[oid].class_name), {"object_id": oid, "window": [a, b]})
    return None


def _last_seen(c: _Ctx) -> Gen:
    cands = [o for o in c.nameable_objects(present=False) if c.t.last_seen(o, c.ask) is not None]
    oid = c.choice(cands or [None])
    if oid is None:
        return None
    t = c.t.last_seen(oid, c.ask)
    tol = int(c.tol("last_seen"))
    return ({"obj": c.obj_phrase(oid)}, Truth("time", t, accept_range_ns=(t - tol, t + tol)),
            c.expected("last_seen", c.t.objects[oid].class_name), {"object_id": oid})


def _since_when(c: _Ctx) -> Gen:
    recs = set(c.t.unique_furniture())
    cands = []
    for oid in c.nameable_objects():
        s = c.t.state(oid, c.ask)
        if s.furniture_id not in recs:
            continue
        first = c.t.first_seen_after(oid, s.t_ns, c.ask)
        if first is not None:
            cands.append((oid, s.t_ns, first, s.furniture_id))
    if not cands:
        return None
    oid, arrive, first, fid = c.choice(cands)
    tol = int(c.tol("since"))
    return ({"obj": c.obj_phrase(oid), "rec": c.rec_phrase(fid)},
            Truth("time", arrive, accept_range_ns=(arrive - tol, first + tol)),
            c.expected("since_when", c.t.objects[oid].class_name, rec=""),
            {"object_id": oid, "furniture_id": fid})


def _exists_past(c: _Ctx) -> Gen:
    w = c.past_when()
    rooms = c.t.unique_room_types()
    cls = c.choice(c.classes_present() or [None])
    if w is None or cls is None or not rooms:
        return None
    phrase, a, b = w
    room = c.choice(rooms)
    val = c.t.constant_over(lambda t: c.t.count_class(cls, t, room_id=room) > 0, a, b)
    if val is None:
        return None
    name = c.pool.name_of(cls, c.rng)
    return ({"obj": name, "objs": plural(name), "room": c.room_phrase(room), "when": phrase},
            Truth("yes_no", bool(val)), c.expected("exists_past", cls, room),
            {"class": cls, "room_id": room, "window": [a, b]})


def _count_past(c: _Ctx) -> Gen:
    w = c.past_when()
    if w is None:
        return None
    phrase, a, b = w
    g = _count_now(c, t_ns=b)
    if g is None:
        return None
    slots, _, _, sim = g
    cls, room = sim["class"], sim["room_id"]
    val = c.t.constant_over(lambda t: c.t.count_class(cls, t, room_id=room), a, b)
    if val is None:
        return None
    slots = dict(slots, when=phrase)
    return (slots, Truth("count", int(val)), c.expected("count_past", cls, room),
            {"class": cls, "room_id": room, "window": [a, b]})


def _where_usually(c: _Ctx) -> Gen:
    start = c.cal.day_start_ns(0)
    cands = []
    for oid in c.nameable_objects(present=False):
        sh = c.t.room_shares(oid, start, c.ask)
        if sh:
            r, v = max(sh.items(), key=lambda kv: kv[1])
            if v >= c.cfg.habit_min_share:
                cands.append((oid, r))
    if not cands:
        return None
    oid, room = c.choice(cands)
    return ({"obj": c.obj_phrase(oid)}, Truth("room", room, c.t.room_type[room]),
            c.expected("where_usually", c.t.objects[oid].class_name), {"object_id": oid})


def _days_seen_in(c: _Ctx) -> Gen:
    if c.day < 1:
        return None
    n = int(c.rng.integers(2, min(7, c.day + 1) + 1))
    rooms = c.t.unique_room_types()
    objs = [o for o in c.nameable_objects(present=False) if c.t.seen.get(o)]
    if not objs or not rooms:
        return None
    oid = c.choice(objs)
    home_room = c.t.world.furniture_by_id(c.t.objects[oid].home_furniture_id).room_id
    room = home_room if home_room in rooms and c.rng.random() < 0.7 else c.choice(rooms)
    days = [d for d in range(c.day - n + 1, c.day + 1) if d >= 0]
    val = sum(1 for d in days if c.t.seen_in_room_on_day(oid, room, d))
    return ({"obj": c.obj_phrase(oid), "room": c.room_phrase(room), "n_days": c.pool.number(n)},
            Truth("count", val), c.expected("days_seen_in", c.t.objects[oid].class_name, room),
            {"object_id": oid, "room_id": room, "days": days})


def _did_move(c: _Ctx) -> Gen:
    s = c.since()
    if s is None:
        return None
    phrase, t0 = s
    objs = [o for o in c.nameable_objects() if c.t.state(o, t0).present]
    want = c.rng.random() < 0.5                  # balanced yes / no
    for k in range(16):
        oid = c.choice(objs)
        any_move, displaced = c.t.moved_between(oid, t0, c.ask, c.cfg.moved_min_distance_m)
        if any_move == displaced and (displaced == want or k >= 12):
            return ({"obj": c.obj_phrase(oid), "since": phrase},
                    Truth("yes_no", displaced, verify_entities=[oid]),
                    c.expected("did_move", c.t.objects[oid].class_name), {"object_id": oid, "since_ns": t0})
    return None


def _still_there(c: _Ctx) -> Gen:
    recs = set(c.t.unique_furniture())
    cands = []
    for oid in c.nameable_objects(present=False):
        t = c.t.last_seen(oid, c.ask)
        if t is None:
            continue
        fid = c.t.state(oid, t).furniture_id
        if fid in recs:
            cands.append((oid, fid))
    if not cands:
        return None
    oid, fid = c.choice(cands)
    now = c.t.state(oid, c.ask)
    yes = now.present and now.furniture_id == fid
    return ({"obj": c.obj_phrase(oid), "rec": c.rec_phrase(fid)},
            Truth("yes_no", yes, verify_entities=[oid] if yes else [fid]),
            c.expected("still_there", c.t.objects[oid].class_name, rec=fid), {"object_id": oid, "furniture_id": fid})


def _what_changed(c: _Ctx) -> Gen:
    s = c.since()
    rooms = c.t.unique_room_types()
    if s is None or not rooms:
        return None
    phrase, t0 = s
    room = c.choice(rooms)
    changed = set()
    for oid, o in c.t.objects.items():
        a, b = c.t.state(oid, t0), c.t.state(oid, c.ask)
        in_a = a.present and a.room_id == room
        in_b = b.present and b.room_id == room
        if in_a != in_b or (in_a and in_b and c.t._differs(a, b, c.cfg.moved_min_distance_m)):
            changed.add(c.t.canon(o.class_name))
    return ({"room": c.room_phrase(room), "since": phrase},
            Truth("set", sorted(changed), verify_rooms=[room]),
            c.expected("what_changed", room=room), {"room_id": room, "since_ns": t0})


def _when_next(c: _Ctx) -> Gen:
    horizon = int(c.cfg.forecast_horizon_h * NS_PER_H)
    rooms = set(c.t.unique_room_types())
    cands = []
    for oid in c.nameable_objects():
        now_room = c.t.room_of(oid, c.ask)
        for s in c.t.log.object_history(oid, c.ask, c.ask + horizon + 1):
            if s.t_ns > c.ask and s.present and s.room_id != now_room and s.room_id in rooms:
                cands.append((oid, s.room_id, s.t_ns))
                break
    if not cands:
        return None
    oid, room, t = c.choice(cands)
    tol = int(c.tol("forecast"))
    return ({"obj": c.obj_phrase(oid), "room": c.room_phrase(room)},
            Truth("time", t, accept_range_ns=(t - tol, t + tol)),
            c.expected("when_next", c.t.objects[oid].class_name, room), {"object_id": oid, "room_id": room})


def _which_first(c: _Ctx) -> Gen:
    horizon = int(c.cfg.forecast_horizon_h * NS_PER_H)
    cons: Dict[str, int] = {}
    for oid in c.t.present_objects(c.ask):
        o = c.t.objects[oid]
        if not o.consumable or o.class_name in c.bad_classes:
            continue
        t = c.t.next_disappearance(oid, c.ask, horizon)
        t = t if t is not None else c.ask + 10 * horizon
        cons[o.class_name] = min(cons.get(o.class_name, t), t)
    classes = sorted(cons)
    if len(classes) < 2:
        return None
    for _ in range(8):
        i, j = c.rng.choice(len(classes), size=2, replace=False)
        a, b = classes[int(i)], classes[int(j)]
        ta, tb = cons[a], cons[b]
        if ta != tb and min(ta, tb) <= c.ask + horizon:
            first = a if ta < tb else b
            return ({"a": c.pool.name_of(a, c.rng), "b": c.pool.name_of(b, c.rng)},
                    Truth("class", c.t.canon(first)),
                    {"kinds": ["which_first"], "target": "", "room": "", "receptacle": "",
                     "targets": sorted([c.t.canon(a), c.t.canon(b)])}, {"classes": [a, b]})
    return None


def _will_be_there(c: _Ctx) -> Gen:
    rooms = c.t.unique_room_types()
    if not rooms:
        return None
    a = c.cal.stamp_ns(c.day + 1, 8 * 3600.0)
    b = c.cal.stamp_ns(c.day + 1, 10 * 3600.0)
    for _ in range(8):
        oid = c.choice(c.nameable_objects())
        room = c.t.room_of(oid, c.ask) if c.rng.random() < 0.5 else c.choice(rooms)
        if room not in rooms:
            continue
        # called right away (constant_over keeps no reference); oid, room bound as defaults for lint B023
        val = c.t.constant_over(lambda t, oid=oid, room=room: c.t.room_of(oid, t) == room, a, b)
        if val is not None:
            return ({"obj": c.obj_phrase(oid), "room": c.room_phrase(room)}, Truth("yes_no", bool(val)),
                    c.expected("will_be_there", c.t.objects[oid].class_name, room), {"object_id": oid, "room_id": room})
    return None


def _oos(kind: str) -> Callable[[_Ctx], Gen]:
    def gen(c: _Ctx) -> Gen:
        objs = c.nameable_objects()
        furn = sorted({f.class_name for f in c.t.world.furniture})
        slots = {"device": c.choice(DEVICES), "furn": c.pool.name_of(c.choice(furn), c.rng),
                 "obj": c.obj_phrase(c.choice(objs)) if objs else "phone"}
        return (slots, Truth("cannot_parse", True), {"kinds": ["cannot_parse"], "target": "", "room": "",
                                                      "receptacle": ""}, {})
    return gen


def _last_seen_room(c: _Ctx, room_id: int) -> Optional[int]:
    """When the robot last had any furniture of the room in view (its last look at the room)."""
    ts = [c.t.last_seen(f.furniture_id, c.ask) for f in c.t.world.furniture if f.room_id == room_id]
    ts = [t for t in ts if t is not None]
    return max(ts) if ts else None


def changed_since_seen(c: _Ctx, kind: str, sim: Dict[str, Any]) -> bool:
    """Is the answer now different from the answer when the robot last looked (memory alone is out of
    date)? Never seen counts as changed."""
    t = c.t
    if kind in ("where_now", "still_there"):
        oid = sim["object_id"]
        seen = t.last_seen(oid, c.ask)
        if seen is None:
            return True
        if kind == "where_now":
            return t.room_of(oid, seen) != t.room_of(oid, c.ask)
        now = t.state(oid, c.ask)
        return not (now.present and now.furniture_id == sim["furniture_id"])
    if kind in ("exists_now", "count_now"):
        seen = _last_seen_room(c, sim["room_id"])
        if seen is None:
            return True
        a = t.count_class(sim["class"], seen, room_id=sim["room_id"])
        b = t.count_class(sim["class"], c.ask, room_id=sim["room_id"])
        return a != b if kind == "count_now" else (a > 0) != (b > 0)
    if kind in ("exists_on_now", "what_on_now"):
        fid = sim["furniture_id"]
        seen = t.last_seen(fid, c.ask)
        if seen is None:
            return True
        if kind == "exists_on_now":
            return (t.count_class(sim["class"], seen, furniture_id=fid) > 0) != \
                (t.count_class(sim["class"], c.ask, furniture_id=fid) > 0)
        def classes(at):
            return sorted({t.canon(t.objects[o].class_name) for o in t.objects_on(fid, at)})
        return classes(seen) != classes(c.ask)
    return False


CHANGE_KINDS = ("where_now", "still_there", "exists_now", "count_now", "exists_on_now", "what_on_now")


GENERATORS: Dict[str, Callable[[_Ctx], Gen]] = {
    "where_now": _where_now, "exists_now": _exists_now, "exists_on_now": _exists_on_now,
    "count_now": _count_now, "what_on_now": _what_on_now, "attribute": _attribute,
    "where_at": _where_at, "last_seen": _last_seen, "since_when": _since_when, "exists_past": _exists_past,
    "count_past": _count_past, "where_usually": _where_usually, "days_seen_in": _days_seen_in,
    "did_move": _did_move, "still_there": _still_there, "what_changed": _what_changed,
    "when_next": _when_next, "which_first": _which_first, "will_be_there": _will_be_there,
    "oos_device": _oos("oos_device"), "oos_material": _oos("oos_material"), "oos_affordance": _oos("oos_affordance"),
}


def generate(truth: HomeTruth, n: int, last_patrol_day: int, first_patrol_ns: int,
             pools: Dict[str, PhrasingPool], cfg: GeneratorConfig, tolerances_ns: Dict[str, int], seed: int,
             min_out_of_scope: int = 0, quotas: Optional[Dict[str, int]] = None,
             last_patrol_end_ns: Optional[int] = None) -> List[Question]:
    """``n`` questions about one home after the patrol of ``last_patrol_day``, asked at the configured
    hours of that day (``ask_hours`` >= 24: the next morning, before any further patrol), never before the
    last patrol ended. Deterministic for (seed, n, config)."""
    quotas = quotas or category_quotas(n, cfg.category_weights, min_out_of_scope)
    cal = truth.calendar
    moments = [cal.stamp_ns(last_patrol_day, h * 3600.0) for h in cfg.ask_hours]
    if last_patrol_end_ns is not None:
        moments = [m for m in moments if m > last_patrol_end_ns] or [last_patrol_end_ns + 3600 * NS_PER_S]
    order: List[str] = []
    for cat in CATEGORIES:
        order += [cat] * quotas.get(cat, 0)
    out: List[Question] = []
    for i, cat in enumerate(order):
        rng = np.random.default_rng([int(seed), 0x1AE0A, i])
        kinds = list(KINDS[cat])
        q = None
        for attempt in range(24):
            kind = kinds[(i + attempt) % len(kinds)] if attempt < len(kinds) else kinds[int(rng.integers(len(kinds)))]
            pool = pools["test"] if rng.random() < cfg.test_pool_fraction else pools["dev"]
            want = rng.random() < cfg.present_changed_fraction
            g = None
            ctx = None
            # the moments people ask: a share of the present-state questions is about something that changed
            # since the robot last looked (memory alone is then out of date) -- at a moment where there is one
            for ask in [moments[int(k)] for k in rng.permutation(len(moments))]:
                ctx = _Ctx(truth, ask, cal.day_of(ask), first_patrol_ns, pool, rng, cfg, tolerances_ns)
                g = GENERATORS[kind](ctx)
                if g is None or kind not in CHANGE_KINDS:
                    break
                for _ in range(12):
                    if g is not None and changed_since_seen(ctx, kind, g[3]) == want:
                        break
                    g = GENERATORS[kind](ctx)
                if g is not None and changed_since_seen(ctx, kind, g[3]) == want:
                    break
            if g is None or any(v is None for v in g[0].values()):
                continue
            slots, tr, expected, sim_slots = g
            template = pool.template(kind, rng)
            text = pool.render(template, slots, rng, cfg.typo_rate)
            q = Question(qid=f"s{seed}-q{i:03d}", seed=int(seed), day=ctx.day, ask_ns=ctx.ask, category=cat,
                         kind=kind, text=text, pool=pool.name, template=template, truth=tr, expected=expected,
                         slots=sim_slots)
            break
        if q is not None:
            out.append(q)
    return out
