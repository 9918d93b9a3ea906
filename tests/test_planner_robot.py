"""Questions about the robot's own day, asked in words and answered end to end (parser -> planner ->
MemoryView.robot_poses) from a known trajectory: where it was at a time or during one, where it is, when it
was last in a room, how long it spent there; "no pose record" where the trail has a gap, and evidence."""
from __future__ import annotations

import pytest

from memory_nodes.planner.answer import ANSWERED, CANNOT_PARSE, NOT_SURE
from memory_nodes.planner.config import PlannerConfig
from memory_nodes.planner.fakes import FakeMemory
from memory_nodes.planner.planner import Planner
from memory_nodes.planner.robot import fmt_duration
from memory_nodes.planner.timephrase import NS_PER_H, NS_PER_S
from memory_nodes.vocab.vocabulary import VocabConfig, Vocabulary

H, M, S = NS_PER_H, 60 * NS_PER_S, NS_PER_S
NOW = 1715871600 * 10**9                 # Thursday 2024-05-16 15:00
ROOMS = {0: "kitchen", 1: "hallway", 2: "living room"}
PLACES = {0: (1.0, 1.0, 0), 1: (5.0, 1.0, 1), 2: (9.0, 1.0, 2)}
T13 = NOW - 2 * H


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary(VocabConfig(allow_model=False))


def day_memory() -> FakeMemory:
    """Kitchen 13:00-13:30, hallway 13:30:10-13:35, no record 13:35-14:00 (perception off), living room
    14:00-14:50, kitchen 14:50:10-14:59:50; a pose every 10 s."""
    mem = FakeMemory(PLACES, ROOMS, NOW)

    def run(place: int, a_ns: int, b_ns: int) -> None:
        for t in range(a_ns, b_ns + 1, 10 * S):
            mem.add_pose(t, PLACES[place][:2], place)
    run(0, T13, T13 + 30 * M)
    run(1, T13 + 30 * M + 10 * S, T13 + 35 * M)
    run(2, T13 + 60 * M, T13 + 110 * M)
    run(0, T13 + 110 * M + 10 * S, NOW - 10 * S)
    return mem


def ask(vocab, q: str, mem=None):
    return Planner(PlannerConfig(), mem or day_memory(), None, vocab).answer(q, NOW)


def test_where_were_you_at_a_time_is_the_pose_then(vocab):
    a = ask(vocab, "Where were you at 1:15 pm?", )
    assert a.query_kind == "robot_where_at" and a.status == ANSWERED and a.room_label == "kitchen"
    assert a.room_id == 0 and a.place_id == 0 and a.probability >= 0.9 and a.path_m == 0.0
    assert a.evidence.stamps_ns and all(abs(t - (T13 + 15 * M)) <= 10 * S for t in a.evidence.stamps_ns)
    assert "kitchen" in a.answer and "13:15" in a.answer


@pytest.mark.parametrize("q,why", [("where were you at 1:45 pm?", "13:35"),   # the gap: the record before it
                                   ("where were you at 11 am?", "before then")])
def test_no_pose_record_then_is_said_not_guessed(vocab, q, why):
    a = ask(vocab, q)
    assert a.query_kind == "robot_where_at" and a.status == NOT_SURE and a.room_id == -1
    assert "no pose record" in a.reason and why in a.reason


def test_where_were_you_during_a_window_ranks_rooms_by_time(vocab):
    a = ask(vocab, "Where were you this afternoon?")
    assert a.status == ANSWERED and a.probability >= 0.8
    assert a.room_label == "living room" and [c.room_id for c in a.top_answers] == [2, 0, 1]
    assert "50 min" in a.best_guess and "living room" in a.best_guess


def test_where_are_you_is_the_latest_pose(vocab):
    a = ask(vocab, "Which room are you in?")
    assert a.status == ANSWERED and a.room_label == "kitchen" and a.time_ns == NOW - 10 * S
    empty = ask(vocab, "where are you?", FakeMemory(PLACES, ROOMS, NOW))
    assert empty.status == NOT_SURE and "no pose record" in empty.reason


def test_when_were_you_last_in_a_room(vocab):
    a = ask(vocab, "When were you last in the hallway?")
    assert a.query_kind == "robot_last_in" and a.status == ANSWERED and a.room_label == "hallway"
    assert a.time_ns == T13 + 35 * M and "13:30" in a.answer and "13:35" in a.answer
    assert T13 + 35 * M in a.evidence.stamps_ns and a.evidence.place_ids == [1]
    now = ask(vocab, "when did you last go to the kitchen?")
    assert now.status == ANSWERED and "now" in now.answer and now.time_ns == NOW - 10 * S
    never = ask(vocab, "When were you last in the living room yesterday?")
    assert never.status == NOT_SURE and "no pose record" in never.reason
    unknown = ask(vocab, "When did you last visit the bathroom?")
    assert unknown.status == NOT_SURE and "no room labelled bathroom" in unknown.reason


def test_how_long_in_a_room_sums_the_trail_and_skips_the_gap(vocab):
    a = ask(vocab, "How long did you spend in the kitchen today?")
    assert a.query_kind == "robot_time_in" and a.status == ANSWERED and a.room_label == "kitchen"
    # 30 min + 9 min 40 s inside, plus half of each 10 s door crossing: 39 min 50 s -> "40 min"
    assert "about 40 min" in a.answer and "2 visit(s)" in a.answer
    b = ask(vocab, "how long were you in the living room?")            # no time: today
    assert b.status == ANSWERED and "about 50 min" in b.answer and "today" in b.answer
    # the 25 minutes without a record count for no room
    hall = ask(vocab, "how long were you in the hallway today?")
    assert "about 5 min" in hall.answer
    none = ask(vocab, "how long were you in the kitchen yesterday?")
    assert none.status == NOT_SURE and "no pose record" in none.reason


def test_a_robot_question_without_a_room_it_knows_is_refused_precisely(vocab):
    a = ask(vocab, "how much time did you spend there?")
    assert a.status == CANNOT_PARSE and a.query.reason_code == "no_target" and a.query.intent == "robot_time_in"


def test_durations_read_as_people_say_them():
    assert [fmt_duration(x) for x in (45 * S, 12 * M, 2 * H + 5 * M)] == ["45 s", "12 min", "2 h 05 min"]
