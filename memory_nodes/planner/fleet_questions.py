"""Cross-robot questions ("has any robot seen my keys today?", "which robot saw the mug last?", "did any of
the robots see a backpack yesterday?"), answered from the fleet server with the robot and its evidence.

    question -> detect_fleet_question: a fleet scope phrase ("any robot", "any of the robots", "which robot",
             |   "the other robots", "robots", ...) found and removed with the verbs around it; the rest is
             |   read by the ordinary parser as "when did you last see <rest>" (object, time window), so
             |   fleet questions understand objects and times exactly as the robot's own questions do
             -> FleetQuestion(mode, target, window)       mode: LAST ("which robot saw X last") or SEEN
             -> answer_fleet(fq, FleetView, ...) -> Answer ("has any robot seen X [then]": yes / no, each robot)

A question without a fleet scope phrase is not a fleet question (None): the planner answers it as before.
FleetView (memory/repository/fleet.py) asks the server; with no server configured, or the server
unreachable, it answers from this robot's own memory and the answer says so (reason and answer text).

Reply fields of a fleet answer (memory_interfaces/srv/Ask): query_kind ``fleet_last_seen`` | ``fleet_seen``;
answer names the robot, time, place/room, observation id and view id; best_guess the robot id; time, place_id,
room_id and position of the most recent sighting (ids and position in THAT robot's map); yes_no for SEEN;
top_answers one per robot; evidence.object_ids ``<robot id>/<track id>``, with observation_ids, place_ids and
stamps in the same order (keyframes stay on each robot: keyframe_refs empty). Pure: no rclpy; time in ns.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, List, Optional

import numpy as np

from ..common.protocols import Evidence
from . import query as Q
from .answer import ANSWERED, CANNOT_PARSE, NOT_SURE, STOP_MEMORY_ONLY, Answer, Candidate
from .query import Query, TimeWindow
from .recall import fmt_time

LAST = "last"                       # which robot saw X last (in the window, if one)
SEEN = "seen"                       # has any robot seen X (in the window): yes / no, and who
FLEET_LAST_SEEN = "fleet_last_seen"  # the reply's query_kind
FLEET_SEEN = "fleet_seen"

_ROBOT_THINGS = r"(?!\s+(?:vacuum|vacuums|toy|toys|arm|arms|cleaner|cleaners|mower|mowers|lawnmower|kit)\b)"
# the scope phrase: a quantifier + robot(s), or robots on their own ("did the robots see ..."); the robot
# itself ("you", "the robot") is not a fleet
_SCOPE = re.compile(
    r"\b(?:(?P<which>which|what)\s+(?:(?:one\s+)?of\s+(?:the|my|our|your)\s+)?(?:other\s+)?robot(?P<which_pl>s)?"
    r"|any\s+(?:(?:one\s+)?of\s+(?:the|my|our|your)\s+)?(?:other\s+)?robots?"
    r"|(?:another|some|a|one|each|every|the\s+other|other|all(?:\s+(?:of\s+)?(?:the|my|our|your))?)\s+robots?"
    r"|(?:(?:the|my|our|your)\s+)?robots"
    r"|(?:the|my|our|your)\s+fleet|anyone\s+in\s+the\s+fleet)\b" + _ROBOT_THINGS)
_LAST = re.compile(r"\b(?:last|most\s+recently|latest|lately)\b")
# words around the scope phrase that are not the object: auxiliaries, seeing verbs, relative pronouns. Before
# the scope every such word goes ("can you tell me if ..."); after it only the leading ones ("seen the ...")
_BEFORE = {"has", "have", "had", "did", "does", "do", "is", "are", "was", "were", "ever", "when", "where", "who",
           "which", "what", "there", "that", "tell", "me", "can", "could", "you", "please", "know", "if", "whether",
           "anyone", "so", "hey", "and", "or", "but"}
_AFTER = {"has", "have", "had", "did", "does", "do", "is", "are", "was", "were", "ever", "seen", "see", "saw",
          "sees", "spotted", "spot", "noticed", "notice", "found", "observed", "observe", "last", "lately",
          "recently", "most", "latest", "who", "that", "which", "of", "them", "us", "in", "the", "a", "an", "fleet",
          "been", "seeing"}
_TRAIL = re.compile(r"(?:\s+(?:last|most\s+recently|lately|recently|latest|please|the\s+last\s+time))+\s*$")


@dataclass
class FleetQuestion:
    """A question about every robot of the fleet."""
    mode: str                      # LAST | SEEN
    scope: str                     # the scope phrase as asked ("any of the robots")
    rest: str                      # the question without it and its verbs ("my keys today")
    query: Query                   # the parser's reading of the rest: target, window (or CANNOT_PARSE)

    @property
    def target(self) -> str:
        return self.query.target

    @property
    def window(self) -> Optional[TimeWindow]:
        return self.query.window


def _normalise(text: str) -> str:
    t = text.lower().replace("\u2019", "'")
    t = re.sub(r"[?!.,;:]+", " ", t)
    return re.sub(r"\s+", " ", t).strip()


def find_scope(text: str) -> Optional[re.Match]:
    """The fleet scope phrase of a question (None: a question about this robot only)."""
    return _SCOPE.search(_normalise(text))


def _rest(t: str, m: re.Match) -> str:
    before, after = t[:m.start()].split(), t[m.end():].split()
    while after and after[0] in _AFTER:
        after.pop(0)
    # words before the scope that are not question words stay (a time phrase: "today has any robot seen ...")
    rest = " ".join([w for w in before if w not in _BEFORE] + after)
    return _TRAIL.sub("", rest).strip()


def detect_fleet_question(question: str, parser, now_ns: int,
                          window: Optional[TimeWindow] = None) -> Optional[FleetQuestion]:
    """The fleet question in ``question``, or None when it has no fleet scope phrase. ``parser`` is the
    planner's QuestionParser (anything with ``parse(text, reference_ns, window) -> Query``): it reads the
    object and the time window from the rest, so its vocabulary, typo correction and time phrases apply."""
    t = _normalise(question)
    m = _SCOPE.search(t)
    if m is None:
        return None
    plural_which = bool(m.group("which")) and bool(m.group("which_pl"))
    mode = LAST if (m.group("which") and not plural_which) or _LAST.search(t) else SEEN
    rest = _rest(t, m)
    q = parser.parse(f"when did you last see {rest}" if rest else "when did you last see", now_ns, window)
    if q.ok and not q.target:
        q = Q.cannot_parse(question, "a question about the fleet that names no object", now_ns, code="no_target")
    q.text = question
    return FleetQuestion(mode, m.group(0), rest, q)


def _obj(robot_id: str, object_id: Optional[int]) -> str:
    return f"{robot_id}/" + (f"obj_{object_id:06d}" if object_id is not None else "unassociated")


def answer_fleet(fq: FleetQuestion, view, own_robot_id: str, now_ns: int, probability: float,
                 room_label: Optional[Callable[[int], str]] = None) -> Answer:
    """Answer a fleet question through ``view`` (a FleetView). ``probability``: the confidence stated for an
    answer from stored sightings (the node passes its calibrated past-sighting confidence). ``room_label``:
    this robot's room names by id (other robots' rooms are named as their robots shipped them, fleet_rooms;
    a room in the question keeps sightings in rooms their robots call so)."""
    q = fq.query
    if not q.ok:
        return Answer(status=CANNOT_PARSE, query_kind=Q.CANNOT_PARSE, reason=q.reason, query=q,
                      stop_reason=STOP_MEMORY_ONLY)
    kind = FLEET_LAST_SEEN if fq.mode == LAST else FLEET_SEEN
    w = q.window
    start = w.start_ns if w is not None and w.start_ns is not None else None
    end = w.end_ns if w is not None and w.end_ns is not None else None
    if end is not None and end >= now_ns:
        end = None                         # "today": up to now, which the server answers from its summary
    room = q.room or ""
    if fq.mode == LAST and start is None:
        fa = view.which_robot_saw_last(q.target, end, room=room)
    else:
        fa = view.seen_since(q.target, start or 0, end, room=room)
    sightings = list(fa.sightings[:1] if fq.mode == LAST else fa.sightings)
    local = fa.source != "fleet"
    when = f" {w.label}" if w is not None and w.label else ""
    what = q.target_phrase or q.target
    scope_note = f"; {fa.note}" if local else ""

    def who(robot: str) -> str:
        return f"{robot} (this robot)" if robot == own_robot_id else robot

    def room_name(s) -> str:
        """This robot's own name for its room, else the name the sighting's robot shipped ("")."""
        own = room_label(s.room_id) if room_label is not None and s.robot_id == own_robot_id and s.room_id >= 0 \
            else ""
        return own or getattr(s, "room_label", "") or ""

    def where(s) -> str:
        label = room_name(s)
        mine = s.robot_id == own_robot_id
        if label:
            in_room = f"in the {label} (room {s.room_id})" if mine else f"in {s.robot_id}'s {label} (room {s.room_id})"
        else:
            in_room = f"in {'its ' if not mine else ''}room {s.room_id}" if s.room_id >= 0 else ""
        place = f"near place {s.place_id}" if s.place_id >= 0 else ""
        return " ".join(p for p in (in_room, place) if p) or "at an unknown place"

    def evidence_text(s) -> str:
        parts = [f"observation {s.observation_id}" if s.observation_id >= 0 else "",
                 f"view {s.view_id}" if s.view_id else "", _obj(s.robot_id, s.object_id)]
        return f"{s.robot_id} " + ", ".join(p for p in parts if p)

    def line(s) -> str:
        return f"{who(s.robot_id)} on {fmt_time(s.stamp_ns)}, {where(s)} ({evidence_text(s)})"

    cands = [Candidate(line(s), probability, s.place_id, s.room_id, np.asarray(s.position_m, float))
             for s in sightings]
    ev = Evidence([_obj(s.robot_id, s.object_id) for s in sightings],
                  [int(s.observation_id) for s in sightings], [int(s.place_id) for s in sightings],
                  [int(s.stamp_ns) for s in sightings], [])
    source = fa.note if local else "from the fleet server"
    if q.room:
        source += f"; in a room its robot calls the {q.room} (each robot's rooms are its own map's)"
    if not sightings:
        in_room = f" in the {q.room}" if q.room else ""
        nobody = (f"this robot has not seen the {what}{in_room}{when}" if local
                  else f"no robot has seen the {what}{in_room}{when}")
        if fq.mode == SEEN:
            return Answer(status=ANSWERED, query_kind=kind, reason=f"no stored sighting ({source})",
                          answer=f"No: {nobody}{scope_note}.", yes_no=False, best_guess="no",
                          probability=probability, raw_probability=probability, query=q,
                          stop_reason=STOP_MEMORY_ONLY)
        return Answer(status=NOT_SURE, query_kind=kind, reason=f"{nobody} ({source})", query=q,
                      stop_reason=STOP_MEMORY_ONLY)
    top = sightings[0]
    label = room_name(top)
    frame = "" if top.robot_id == own_robot_id else f"; place, room and position are in {top.robot_id}'s map"
    if fq.mode == LAST:
        text = f"{who(top.robot_id)} saw the {what} last{when}: {fmt_time(top.stamp_ns)}, {where(top)} " \
               f"(evidence: {evidence_text(top)}){scope_note}."
        reason = f"{'this robot' if local else 'any robot'}'s most recent sighting ({source}{frame})"
    else:
        text = f"Yes{when}: " + "; ".join(line(s) for s in sightings) + f"{scope_note}."
        robots = fleet_robots(sightings)
        n = len(robots)
        reason = (f"{n} robot{'s' if n != 1 else ''} saw it ({', '.join(robots)}), each one's latest sighting "
                  f"({source}{frame})")
    return Answer(status=ANSWERED, query_kind=kind, reason=reason, answer=text,
                  position_m=np.asarray(top.position_m, float), place_id=int(top.place_id),
                  room_id=int(top.room_id), room_label=label, time_ns=int(top.stamp_ns),
                  yes_no=True if fq.mode == SEEN else None, object_id=_obj(top.robot_id, top.object_id),
                  best_guess=top.robot_id, probability=probability, raw_probability=probability,
                  top_answers=cands, evidence=ev, query=q, stop_reason=STOP_MEMORY_ONLY)


def fleet_robots(sightings) -> List[str]:
    """The robot ids of sightings, in order, once each."""
    return list(dict.fromkeys(s.robot_id for s in sightings))
