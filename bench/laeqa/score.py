"""Scoring an agent's reply against the truth.

Exact for rooms, yes/no, counts, colours and classes; a tolerance (the truth's accepted interval) for
times; sets ("what is on Y", "what changed") by F1 >= ``set_min_f1``. A room answer is judged by what the
user reads and by its position: the room type its text names (if it names one) must be the type of the
true room, and the position (the simulator's room containing it) must be in the true room; without a
position, by its room label (only enough when the home has a single room of that type). NOT_SURE counts
as wrong; its best guess is still scored for calibration. ``text_room_agrees`` says whether the room a
reply's text names contains the reply's own position (the text/position mismatch the run reports).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, List, Optional, Tuple

import numpy as np

from sim.catalog import ROOM_TYPES
from sim.world import World

from .metrics import set_f1
from .questions import Question

ANSWERED, NOT_SURE, CANNOT_PARSE = "ANSWERED", "NOT_SURE", "CANNOT_PARSE"
_COLOR_ALIASES = {"gray": "grey"}
_COLORS = ("red", "green", "blue", "yellow", "white", "black", "grey", "gray", "orange", "purple", "pink", "brown",
           "silver", "gold", "beige")


@dataclass
class Reply:
    """An agent's reply in the benchmark's terms (the planner's Answer, or a baseline's)."""
    status: str                                   # ANSWERED | NOT_SURE | CANNOT_PARSE
    query_kind: str = ""
    probability: Optional[float] = None           # stated P(best guess correct); None = no guess
    raw_probability: Optional[float] = None       # before the planner's calibration (for fitting it)
    position_m: Optional[np.ndarray] = None
    room_label: str = ""
    yes_no: Optional[bool] = None
    count: int = -1
    time_ns: int = 0
    items: List[str] = field(default_factory=list)
    text: str = ""
    path_m: float = 0.0
    looks: int = 0
    memory_reads: int = 0
    wall_s: float = 0.0
    parse_ok: Optional[bool] = None               # the parse matched the reference parse (None: not judged)
    parse_confidence: Optional[float] = None      # the parse's own confidence (None: no parse)
    error: str = ""


def _color_of(text: str) -> str:
    words = re.findall(r"[a-z]+", text.lower())
    hits = [w for w in words if w in _COLORS]
    return _COLOR_ALIASES.get(hits[-1], hits[-1]) if hits else ""


_ROOM_PHRASES = sorted(((t.replace("_", " "), t) for t in ROOM_TYPES), key=lambda kv: -len(kv[0]))


def named_room_type(text: str) -> str:
    """The room type (catalog name) the text names first, "" if none ("in the kids room near place 5" ->
    kids_room; "room 3" or "near place 5, 3.2 m north of the map origin" name none)."""
    low = " " + re.sub(r"[^a-z]+", " ", text.lower()) + " "
    best = (len(low) + 1, "")
    for phrase, t in _ROOM_PHRASES:
        i = low.find(" " + phrase + " ")
        if 0 <= i < best[0]:
            best = (i, t)
    return best[1]


def _position_room(reply: Reply, world: World) -> Optional[int]:
    if reply.position_m is None or not np.all(np.isfinite(reply.position_m[:2])):
        return None
    return world.room_at(float(reply.position_m[0]), float(reply.position_m[1]))


def text_room_agrees(reply: Reply, world: World) -> Optional[bool]:
    """Does the room type the reply's text names hold the reply's position? None when the text names no
    room or the reply has no position (nothing to compare)."""
    named = named_room_type(reply.text)
    room = _position_room(reply, world)
    if not named or room is None:
        return None
    return room >= 0 and world.room(room).room_type == named


def guess_correct(reply: Reply, q: Question, world: World, canonical, set_min_f1: float) -> bool:
    """Is the reply's best guess right (ignoring NOT_SURE)?"""
    tr = q.truth
    t = tr.answer_type
    if t == "cannot_parse":
        return reply.status == CANNOT_PARSE
    if reply.status == CANNOT_PARSE:
        return False
    if t == "room":
        named = named_room_type(reply.text)
        if named and named != tr.room_type:
            return False                  # the user reads another room, whatever the position says
        room = _position_room(reply, world)
        if room is not None:
            return room == int(tr.value)
        if reply.room_label:
            same_type = [r for r in world.rooms if r.room_type == tr.room_type]
            return len(same_type) == 1 and canonical_room(reply.room_label) == canonical_room(tr.room_type)
        return False
    if t == "yes_no":
        return reply.yes_no is not None and bool(reply.yes_no) == bool(tr.value)
    if t == "count":
        return reply.count is not None and int(reply.count) == int(tr.value)
    if t == "time":
        lo, hi = tr.accept_range_ns
        return reply.time_ns > 0 and lo <= reply.time_ns <= hi
    if t == "color":
        c = _color_of(" ".join(reply.items) + " " + reply.text)
        return c != "" and c == _COLOR_ALIASES.get(str(tr.value), str(tr.value))
    if t == "set":
        pred = [canonical(i) for i in reply.items]
        return set_f1(pred, list(tr.value)) >= set_min_f1
    if t == "class":
        cands = [canonical(i) for i in reply.items] or ([canonical(reply.text)] if reply.text else [])
        return bool(cands) and cands[0] == tr.value
    raise ValueError(f"unknown answer type {t!r}")


def canonical_room(label: str) -> str:
    return label.strip().lower().replace("_", " ")


def score(reply: Reply, q: Question, world: World, canonical, set_min_f1: float) -> Tuple[bool, bool]:
    """(correct, best guess correct). NOT_SURE is never correct."""
    g = guess_correct(reply, q, world, canonical, set_min_f1)
    if q.truth.answer_type == "cannot_parse":
        return g, g
    return (g and reply.status == ANSWERED), g


def parse_matches(query: Any, expected: dict, canonical) -> Optional[bool]:
    """Does a parsed Query match the reference parse (kind, and target / room / receptacle where the
    reference names them)? None when the reference has no planner kind (an unsupported kind)."""
    kinds = expected.get("kinds")
    if not kinds:
        return None
    if query is None:
        return False
    if query.kind not in kinds:
        return False
    if query.kind == "cannot_parse":
        return True
    if expected.get("target") and canonical(query.target or "") != expected["target"]:
        return False
    if expected.get("room") and canonical_room(query.room or "") != expected["room"]:
        return False
    if expected.get("receptacle") and query.kind in ("exists", "count", "what_on") and \
            canonical(query.receptacle or "") != expected["receptacle"]:
        return False
    if expected.get("targets"):
        got = sorted(canonical(t) for t in (query.targets or []))
        if got != sorted(expected["targets"]):
            return False
    return True
