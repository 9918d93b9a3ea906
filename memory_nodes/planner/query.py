"""The typed query the parser produces and the planner answers.

A Query is plain data: the kind of question, what it is about (a canonical class or a memory object id),
where (room / receptacle), when (a time window or instant, in ns, resolved against the caller's reference
time) and which attribute. ``validate_query`` checks a Query (or a dict from an untrusted source such as a
chat endpoint) against the schema; it raises InputError with the offending field.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Dict, List, Mapping, Optional

from ..common.errors import InputError

# Question kinds (the reply's query_kind). Tense: which belief answers it.
WHERE_NOW = "where_now"            # where is X (now)                               present
WHERE_AT = "where_at"              # where was X at / during T, or the last time     past
LAST_SEEN = "last_seen"            # when did you last see X                         past
SINCE_WHEN = "since_when"          # since when has X been there                     past (memory)
EXISTS = "exists"                  # is there an X in room/receptacle Y (now or at T) present / past
COUNT = "count"                    # how many X (in Y) (now or at T)                 present / past
WHAT_ON = "what_on"                # what is on / in Y                               present / past
DID_MOVE = "did_move"              # did X move (since T)                            past-present
WHAT_CHANGED = "what_changed"      # what changed (in Y) since T                     past-present
ATTRIBUTE = "attribute"            # what colour is X                                present (memory)
WHERE_USUALLY = "where_usually"    # where is X usually                              habit
WHEN_NEXT = "when_next"            # when will X next be in Y                        forecast
WHICH_FIRST = "which_first"        # which runs out first, A or B                    forecast
WILL_BE = "will_be"                # will X be in Y (tomorrow morning / at T)         forecast
DAYS_SEEN = "days_seen"            # on how many of the last N days was X in Y       habit
CANNOT_PARSE = "cannot_parse"

# Robot-centric questions (about the robot's own travel), answered from memory's pose trail
# (MemoryView.robot_poses; planner/robot.py).
ROBOT_WHERE_AT = "robot_where_at"  # where were you at T / during T / which room are you in   past / present
ROBOT_LAST_IN = "robot_last_in"    # when were you last in room R                              past
ROBOT_TIME_IN = "robot_time_in"    # how long were you in room R (during T; today if no T)     past
ROBOT_PASSED = "robot_passed"      # what did you pass on your way (from room O) to room R     past
ROBOT_KINDS = (ROBOT_WHERE_AT, ROBOT_LAST_IN, ROBOT_TIME_IN, ROBOT_PASSED)

# Reason codes of a refusal (Query.reason_code; the reply's reason text says it in words).
REASON_CODES = ("device_state", "object_state", "material", "attribute", "affordance", "function",
                "recommendation", "hypothetical", "opinion", "cause_agent", "world_knowledge", "identify",
                "spatial", "unknown_object", "event_time", "no_target", "no_kind",
                "empty", "low_confidence")

KINDS = (WHERE_NOW, WHERE_AT, LAST_SEEN, SINCE_WHEN, EXISTS, COUNT, WHAT_ON, DID_MOVE, WHAT_CHANGED,
         ATTRIBUTE, WHERE_USUALLY, WHEN_NEXT, WHICH_FIRST, WILL_BE, DAYS_SEEN) + ROBOT_KINDS

PRESENT, PAST, PAST_PRESENT, HABIT, FUTURE = "present", "past", "past_present", "habit", "future"
TENSES = (PRESENT, PAST, PAST_PRESENT, HABIT, FUTURE)

ATTRIBUTES = ("color",)
RELATIONS = ("", "on", "in")

# Kinds whose target is required.
_NEEDS_TARGET = {WHERE_NOW, WHERE_AT, LAST_SEEN, SINCE_WHEN, EXISTS, COUNT, DID_MOVE, ATTRIBUTE,
                 WHERE_USUALLY, WHEN_NEXT, WILL_BE, DAYS_SEEN}


@dataclass
class TimeWindow:
    """A closed interval [start_ns, end_ns]; None = unbounded on that side. ``label`` is the phrase."""
    start_ns: Optional[int] = None
    end_ns: Optional[int] = None
    label: str = ""

    def contains(self, t_ns: int) -> bool:
        return (self.start_ns is None or t_ns >= self.start_ns) and (self.end_ns is None or t_ns <= self.end_ns)


@dataclass
class Query:
    kind: str
    text: str = ""                       # the question as asked
    target: str = ""                     # canonical class, or a memory object id when object_id is True
    object_id: bool = False
    targets: List[str] = field(default_factory=list)   # alternatives (which_first)
    room: str = ""                       # canonical room label ("" = anywhere); a route's destination
    origin_room: str = ""                # a route's start ("from the kitchen to ..."; "" = wherever it was)
    receptacle: str = ""                 # canonical furniture class (what_on / exists "on the table")
    color: str = ""                      # colour word qualifying the target ("the red mug")
    relation: str = ""                   # "on" | "in" | ""
    attribute: str = ""                  # "color"
    window: Optional[TimeWindow] = None  # the time the question is about (None = now / all time)
    last_time: bool = False              # "the last time": the most recent sighting
    tense: str = PRESENT
    reference_ns: int = 0                # "now" for the question (given by the caller)
    reason: str = ""                     # why CANNOT_PARSE, or notes of the parse
    source: str = "rules"                # "rules" | "embedding" | "chat"
    reason_code: str = ""                # one of REASON_CODES when CANNOT_PARSE ("" otherwise)
    intent: str = ""                     # the kind asked, also when refused (unknown object, robot-centric)
    target_phrase: str = ""              # the target's head noun phrase as asked ("paper shredder")
    day_part: str = ""                   # "morning" | "afternoon" | "evening" | "night" (habits, any day)
    windows: List[TimeWindow] = field(default_factory=list)   # a list of times ("on monday, wednesday")
    alternatives: List[str] = field(default_factory=list)     # places offered ("in the bedroom or the hall")
    confidence: float = 1.0              # how sure the parser is of kind and slots, in [0, 1]

    @property
    def ok(self) -> bool:
        return self.kind != CANNOT_PARSE

    @property
    def is_past(self) -> bool:
        """Looking now cannot change the answer (such questions never move the robot)."""
        return self.tense in (PAST, HABIT, FUTURE)

    def describe(self) -> str:
        """The parse in words ("where_now: mug, room kitchen, yesterday"), for replies that say what was
        understood."""
        parts = [self.target or self.target_phrase, f"on {self.receptacle}" if self.receptacle else "",
                 f"from {self.origin_room}" if self.origin_room else "",
                 (f"to {self.room}" if ROBOT_PASSED in (self.kind, self.intent) else f"in {self.room}")
                 if self.room else "", self.window.label if self.window else "", self.day_part]
        parts += [t for t in self.targets[1:]]
        body = ", ".join(p for p in parts if p)
        return f"{(self.intent or self.kind).replace('_', ' ')}" + (f" ({body})" if body else "")

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def cannot_parse(text: str, reason: str, reference_ns: int = 0, code: str = "", intent: str = "",
                 target_phrase: str = "") -> Query:
    return Query(kind=CANNOT_PARSE, text=text, reason=reason, reference_ns=reference_ns, reason_code=code or "no_kind",
                 intent=intent, target_phrase=target_phrase)


def tense_of(kind: str, window: Optional[TimeWindow], reference_ns: int, last_time: bool = False) -> str:
    """The tense a kind has given its time window: a window that ends before now makes it past."""
    if kind in (WHERE_USUALLY, DAYS_SEEN):
        return HABIT
    if kind in (WHEN_NEXT, WHICH_FIRST, WILL_BE):
        return FUTURE
    if kind in (WHERE_AT, LAST_SEEN, SINCE_WHEN, ROBOT_LAST_IN, ROBOT_TIME_IN, ROBOT_PASSED):
        return PAST
    if kind in (DID_MOVE, WHAT_CHANGED):
        return PAST_PRESENT
    if last_time:
        return PAST
    if window is not None and window.end_ns is not None and window.end_ns < reference_ns:
        return PAST
    return PRESENT


def validate_query(q: Any) -> Query:
    """A Query from a Query or a mapping (e.g. a chat endpoint's JSON); raises InputError if invalid."""
    if isinstance(q, Mapping):
        q = _from_mapping(q)
    if not isinstance(q, Query):
        raise InputError("bad_query", f"expected a Query or a mapping, got {type(q).__name__}")
    if q.kind != CANNOT_PARSE and q.kind not in KINDS:
        raise InputError("bad_query", f"unknown kind {q.kind!r}")
    if q.kind == CANNOT_PARSE:
        if not q.reason_code:          # every refusal carries a code (the Ask reply's reason_code)
            q.reason_code = "no_kind"
        return q
    if q.kind in _NEEDS_TARGET and not q.target:
        raise InputError("bad_query", f"kind {q.kind} needs a target")
    if q.kind == WHICH_FIRST and len(q.targets) < 2:
        raise InputError("bad_query", "which_first needs at least two targets")
    if q.kind in (WILL_BE, DAYS_SEEN) and not (q.receptacle or q.room):
        raise InputError("bad_query", f"{q.kind} needs a room or a receptacle")
    if q.kind in (ROBOT_LAST_IN, ROBOT_TIME_IN, ROBOT_PASSED) and not q.room:
        raise InputError("bad_query", f"{q.kind} needs a room")
    if q.kind == WHAT_ON and not (q.receptacle or q.room):
        raise InputError("bad_query", "what_on needs a receptacle or a room")
    if q.kind == ATTRIBUTE and q.attribute not in ATTRIBUTES:
        raise InputError("bad_query", f"attribute must be one of {ATTRIBUTES}, got {q.attribute!r}")
    if q.day_part not in ("", "morning", "afternoon", "evening", "night"):
        raise InputError("bad_query", f"day_part must be morning/afternoon/evening/night, got {q.day_part!r}")
    if q.relation not in RELATIONS:
        raise InputError("bad_query", f"relation must be one of {RELATIONS}")
    if q.tense not in TENSES:
        raise InputError("bad_query", f"tense must be one of {TENSES}")
    w = q.window
    if w is not None:
        for name in ("start_ns", "end_ns"):
            v = getattr(w, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
                raise InputError("bad_query", f"window.{name} must be an int (ns)")
        if w.start_ns is not None and w.end_ns is not None and w.start_ns > w.end_ns:
            raise InputError("bad_query", "window starts after it ends")
    return q


def _from_mapping(d: Mapping[str, Any]) -> Query:
    names = {f.name for f in fields(Query)}
    unknown = set(d) - names
    if unknown:
        raise InputError("bad_query", f"unknown field(s) {sorted(unknown)}")
    if "kind" not in d or not isinstance(d["kind"], str):
        raise InputError("bad_query", "missing kind")
    kw: Dict[str, Any] = {}
    str_fields = ("kind", "text", "target", "room", "origin_room", "receptacle", "color", "relation", "attribute",
                  "tense",
                  "reason", "source", "reason_code", "intent", "target_phrase", "day_part")
    for k, v in d.items():
        if k in str_fields:
            if v is None:
                v = ""
            if not isinstance(v, str):
                raise InputError("bad_query", f"{k} must be a string")
            kw[k] = v.strip().lower() if k not in ("text", "reason") else v
        elif k in ("object_id", "last_time"):
            if not isinstance(v, bool):
                raise InputError("bad_query", f"{k} must be true/false")
            kw[k] = v
        elif k == "confidence":
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= float(v) <= 1.0:
                raise InputError("bad_query", "confidence must be a number in [0, 1]")
            kw[k] = float(v)
        elif k in ("windows",):
            if not isinstance(v, list) or not all(isinstance(w, Mapping) for w in v):
                raise InputError("bad_query", "windows must be a list of objects")
            kw[k] = [TimeWindow(w.get("start_ns"), w.get("end_ns"), str(w.get("label", ""))) for w in v]
        elif k in ("targets", "alternatives"):
            if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
                raise InputError("bad_query", f"{k} must be a list of strings")
            kw[k] = [s.strip().lower() for s in v]
        elif k == "reference_ns":
            if isinstance(v, bool) or not isinstance(v, int):
                raise InputError("bad_query", "reference_ns must be an int")
            kw[k] = v
        elif k == "window":
            if v is None:
                kw[k] = None
            elif isinstance(v, Mapping):
                extra = set(v) - {"start_ns", "end_ns", "label"}
                if extra:
                    raise InputError("bad_query", f"window: unknown field(s) {sorted(extra)}")
                kw[k] = TimeWindow(v.get("start_ns"), v.get("end_ns"), str(v.get("label", "")))
            else:
                raise InputError("bad_query", "window must be an object or null")
    return Query(**kw)
