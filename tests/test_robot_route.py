"""'What did you pass on your way to the kitchen?': the parser's robot_passed intent over many phrasings,
the trip rule of common/trajectory.py (where a trip starts, rooms passed through, gaps, an asked origin),
and the planner's answer from a known trail and known observations (FakeMemory.seen_between): the objects
seen between leaving and arriving, in the order seen, with the rooms driven through and evidence."""
from __future__ import annotations

import numpy as np
import pytest

from memory_nodes.common.protocols import PoseSample
from memory_nodes.common.trajectory import trip_to
from memory_nodes.planner import query as Q
from memory_nodes.planner.answer import ANSWERED
from memory_nodes.planner.config import PlannerConfig
from memory_nodes.planner.fakes import FakeMemory
from memory_nodes.planner.parse import QuestionParser
from memory_nodes.planner.planner import Planner
from memory_nodes.planner.timephrase import NS_PER_H, NS_PER_S
from memory_nodes.vocab.vocabulary import VocabConfig, Vocabulary

H, M, S = NS_PER_H, 60 * NS_PER_S, NS_PER_S
NOW = 1715871600 * 10**9                 # Thursday 2024-05-16 15:00
T12 = NOW - 3 * H
ROOMS = {0: "kitchen", 1: "hallway", 2: "living room", 3: "bedroom", 4: "office"}
PLACES = {0: (1.0, 1.0, 0), 1: (5.0, 1.0, 1), 2: (9.0, 1.0, 2), 3: (13.0, 1.0, 3), 4: (20.0, 1.0, 4)}

# (question as people ask it, destination, origin, a word of the time label or "")
ROUTE_PHRASINGS = [
    ("What did you pass on your way to the kitchen?", "kitchen", "", ""),
    ("what did you see on the way to the kitchen?", "kitchen", "", ""),
    ("What was on your way from the kitchen to the bedroom?", "bedroom", "kitchen", ""),
    ("what did you go past on the way to the living room?", "living room", "", ""),
    ("Which things did you pass when you went to the kitchen?", "kitchen", "", ""),
    ("What did you drive past on your way to the hallway this morning?", "hallway", "", "morning"),
    ("what objects did you see while going to the kitchen yesterday?", "kitchen", "", "yesterday"),
    ("On your way to the kitchen, what did you pass?", "kitchen", "", ""),
    ("what was along your route to the bedroom?", "bedroom", "", ""),
    ("What did you pass going from the living room to the kitchen?", "kitchen", "living room", ""),
    ("what did you notice on your way to the kitchen?", "kitchen", "", ""),
    ("what furniture did you pass on the way to the living room?", "living room", "", ""),
    ("when you drove to the bedroom, what did you see along the way?", "bedroom", "", ""),
    ("what did you pass by on your trip from the hallway to the kitchen?", "kitchen", "hallway", ""),
    ("tell me what you passed on the way to the bathroom", "bathroom", "", ""),
]


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary(VocabConfig(allow_model=False))


@pytest.fixture(scope="module")
def parser(vocab):
    return QuestionParser(vocab=vocab)


@pytest.mark.parametrize("q,dest,origin,when", ROUTE_PHRASINGS)
def test_route_questions_parse_to_robot_passed_with_destination_and_origin(parser, q, dest, origin, when):
    r = parser.parse(q, NOW)
    assert r.kind == "robot_passed" and r.room == dest and r.origin_room == origin, r
    assert (when in r.window.label) if when else r.window is None
    assert r.is_past


@pytest.mark.parametrize("q,kind", [("what is on the kitchen table?", "what_on"),
                                    ("what did you see in the kitchen?", "what_on"),
                                    ("when did you last go to the kitchen?", "robot_last_in"),
                                    ("where is the mug?", "where_now")])
def test_questions_without_a_route_keep_their_kind(parser, q, kind):
    assert parser.parse(q, NOW).kind == kind


def test_a_route_question_without_a_room_is_refused_as_such(parser):
    r = parser.parse("what did you pass on your way?", NOW)
    assert r.kind == Q.CANNOT_PARSE and r.reason_code == "no_target" and r.intent == "robot_passed"


# ----------------------------------------------------------------------------------- the trip rule
def _trail(runs):
    """[(room, start_ns, end_ns)] -> a sample every 10 s in each run."""
    out = []
    for room, a, b in runs:
        out += [PoseSample(t, np.array([float(room), 0.0, 1.0]), 0.0, room, room, f"v{t}")
                for t in range(a, b + 1, 10 * S)]
    return out


GAP, STAY = 60 * S, 60 * S


def test_a_trip_starts_where_the_robot_stayed_and_passes_through_short_runs():
    trail = _trail([(3, 0, 20 * M), (1, 20 * M + 10 * S, 20 * M + 40 * S), (2, 20 * M + 50 * S, 21 * M + 20 * S),
                    (0, 21 * M + 30 * S, 40 * M)])
    trip = trip_to(trail, {0}, GAP, STAY)
    assert trip is not None and trip.complete and trip.origin_room_id == 3
    assert trip.start_ns == 20 * M and trip.end_ns == 21 * M + 30 * S and trip.rooms_passed() == [1, 2]
    # the origin asked: from the living room (a short run) to the kitchen
    short = trip_to(trail, {0}, GAP, STAY, origin_rooms={2})
    assert short.start_ns == 21 * M + 20 * S and short.rooms_passed() == []
    assert trip_to(trail, {3}, GAP, STAY, origin_rooms={0}) is None        # never went kitchen -> bedroom


def test_the_latest_trip_wins_and_arrive_by_picks_an_earlier_one():
    trail = _trail([(3, 0, 10 * M), (0, 10 * M + 10 * S, 20 * M), (3, 20 * M + 10 * S, 30 * M),
                    (0, 30 * M + 10 * S, 40 * M)])
    assert trip_to(trail, {0}, GAP, STAY).end_ns == 30 * M + 10 * S
    assert trip_to(trail, {0}, GAP, STAY, arrive_by_ns=25 * M).end_ns == 10 * M + 10 * S
    assert trip_to(trail, {0}, GAP, STAY, arrive_after_ns=35 * M) is None


def test_a_gap_before_arrival_leaves_the_start_unknown():
    trail = _trail([(3, 0, 10 * M), (1, 30 * M, 30 * M + 20 * S), (0, 30 * M + 30 * S, 40 * M)])
    trip = trip_to(trail, {0}, GAP, STAY)
    assert not trip.complete and trip.origin_room_id == -1 and trip.start_ns == 30 * M
    assert trip_to(trail, {0}, GAP, STAY, origin_rooms={3}) is None        # the gap: not a trip from there


# ----------------------------------------------------------------------------------- answers
def route_memory() -> FakeMemory:
    """Bedroom 12:00-12:20 (a stay), hallway 12:20:10-12:20:40 and living room 12:20:50-12:21:20 driven
    through, kitchen 12:21:30-12:40; no record 12:40-13:10; hallway 13:10-13:10:20, office 13:10:30-13:20
    (where it came from: unknown)."""
    mem = FakeMemory(PLACES, ROOMS, NOW)
    for place, a, b in [(3, 0, 20 * M), (1, 20 * M + 10 * S, 20 * M + 40 * S), (2, 20 * M + 50 * S, 21 * M + 20 * S),
                        (0, 21 * M + 30 * S, 40 * M), (1, 70 * M, 70 * M + 20 * S), (4, 70 * M + 30 * S, 80 * M)]:
        for t in range(T12 + a, T12 + b + 1, 10 * S):
            mem.add_pose(t, PLACES[place][:2], place)
    mem.add_observation("obj_lamp", "lamp", (13.5, 1.5, 1.0), 3, T12 + 10 * M)           # before it left
    mem.add_observation("obj_bed", "bed", (13.0, 2.0, 0.5), 3, T12 + 20 * M)             # as it left
    mem.add_observation("obj_shoe", "shoe", (5.2, 0.5, 0.1), 1, T12 + 20 * M + 20 * S)
    mem.add_observation("obj_sofa", "couch", (9.0, 2.0, 0.5), 2, T12 + 21 * M)
    mem.add_observation("obj_shoe", "shoe", (5.2, 0.5, 0.1), 1, T12 + 21 * M + 10 * S)   # seen again, behind
    mem.add_observation("obj_mug", "cup", (1.2, 1.0, 0.9), 0, T12 + 25 * M)             # after it arrived
    return mem


def ask(vocab, q: str):
    return Planner(PlannerConfig(), route_memory(), None, vocab).answer(q, NOW)


def test_what_it_passed_on_its_way_is_what_it_saw_between_leaving_and_arriving(vocab):
    a = ask(vocab, "What did you pass on your way to the kitchen?")
    assert a.query_kind == "robot_passed" and a.status == ANSWERED and a.probability >= 0.9
    assert a.room_label == "kitchen" and a.time_ns == T12 + 21 * M + 30 * S
    text = a.answer
    assert "bedroom" in text and "12:20" in text and "hallway" in text and "living room" in text
    assert text.index("bed") < text.index("shoe") < text.index("couch")         # in the order seen
    assert "lamp" not in text and "cup" not in text
    ev = a.evidence
    assert {"obj_bed", "obj_shoe", "obj_sofa"} <= set(ev.object_ids) and "obj_mug" not in ev.object_ids
    assert T12 + 20 * M in ev.stamps_ns and T12 + 21 * M + 30 * S in ev.stamps_ns
    assert {1, 2} <= set(ev.place_ids) and len(ev.observation_ids) >= 4


def test_an_asked_origin_bounds_the_trip(vocab):
    a = ask(vocab, "what did you see on your way from the living room to the kitchen?")
    assert a.status == ANSWERED and "living room" in a.answer and "nothing I recognise" in a.answer
    none = ask(vocab, "What was on your way from the kitchen to the bedroom?")
    assert none.status != ANSWERED and "no record of a trip to the bedroom from the kitchen" in none.reason


def test_no_trip_then_or_no_such_room_is_said(vocab):
    a = ask(vocab, "what did you pass on the way to the kitchen this morning?")
    assert a.status != ANSWERED and "no record of a trip to the kitchen this morning" in a.reason
    b = ask(vocab, "what did you pass on the way to the bathroom?")
    assert b.status != ANSWERED and "no room labelled bathroom" in b.reason


def test_a_trip_whose_start_has_no_record_says_so_and_is_less_sure(vocab):
    a = ask(vocab, "what did you pass on your way to the office?")
    assert a.query_kind == "robot_passed" and a.probability < 0.6
    text = a.answer or a.best_guess
    assert "no record of where I came from" in text and "13:10" in text and "through the hallway" in text


# ----------------------------------------------------------------------------------- memory's read
def _obs(t, cls, p):
    from memory_nodes.common.types import ObjectObservation
    p = np.asarray(p, float)
    return ObjectObservation(t, cls, 0.9, p, p - 0.05, p + 0.05, 100, (0.2, 0.3, 0.8), None, 2.0)


def test_memory_serves_the_objects_observed_in_a_window_one_span_each(tmp_path, vocab):
    from memory_nodes.common.errors import InputError
    from memory_nodes.common.types import PerceptionOutput
    from memory_nodes.memory import MemoryCore
    mem = MemoryCore.open(str(tmp_path / "m.db"), vocab=vocab)
    t0 = T12
    chair, cup = (2.0, 1.0, 0.5), (6.0, 1.0, 0.9)
    for k in range(6):                                     # a chair at 0-5 s, a cup at 10-15 s
        mem.ingest(PerceptionOutput(t0 + k * S, [_obs(t0 + k * S, "chair", chair)]))
    for k in range(6):
        mem.ingest(PerceptionOutput(t0 + (10 + k) * S, [_obs(t0 + (10 + k) * S, "mug", cup)]))
    mem.commit()
    mem.set_writes_paused(True)
    for k in range(3):                                     # the cup again at 20-22 s, not yet committed
        mem.ingest(PerceptionOutput(t0 + (20 + k) * S, [_obs(t0 + (20 + k) * S, "mug", cup)]))
    spans = mem.seen_between(t0 + 3 * S, t0 + 21 * S)
    assert mem.has_uncommitted and [h.class_name for h in spans] == ["chair", "mug"]
    ch, cu = spans
    assert (ch.start_ns - t0) // S == 3 and (ch.end_ns - t0) // S == 5 and len(ch.evidence.observation_ids) == 3
    assert (cu.start_ns - t0) // S == 10 and (cu.end_ns - t0) // S == 21        # RAM ones too
    assert cu.evidence.stamps_ns == sorted(cu.evidence.stamps_ns) and len(cu.evidence.observation_ids) == 8
    assert np.allclose(cu.position_m[:2], cup[:2], atol=0.1) and ch.evidence.object_ids == [ch.object_id]
    assert mem.seen_between(t0 + 6 * S, t0 + 9 * S) == []
    with pytest.raises(InputError):
        mem.seen_between(t0 + 10, t0)
    mem.set_writes_paused(False)
    mem.close()
