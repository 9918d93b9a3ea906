"""LA-EQA scores what the user reads and reports what flatters no one: a room answer whose text names
another room than the true one is wrong whatever its position, a text/position mismatch is counted, raw
Brier sits beside the base rate's, path efficiency is also reported over the questions where an agent
drove, and the confidences' spread is reported."""
from __future__ import annotations

import numpy as np
import pytest

from bench.laeqa.metrics import base_rate_brier, brier, summarize
from bench.laeqa.questions import Question, Truth
from bench.laeqa.score import ANSWERED, Reply, named_room_type, score, text_room_agrees


class _Room:
    def __init__(self, rid, t):
        self.room_id, self.room_type = rid, t


class _World:
    """room 0 = x < 5 (kitchen), room 1 = x >= 5 (kids room)."""
    rooms = [_Room(0, "kitchen"), _Room(1, "kids_room")]

    def room_at(self, x, y):
        return 0 if x < 5 else 1

    def room(self, rid):
        return self.rooms[rid]


def _where(room_id, room_type) -> Question:
    return Question("q", 1, 0, 0, "present", "where_now", "where is the ball?", "dev", "",
                    Truth("room", room_id, room_type), {"kinds": ["where_now"], "target": "ball"})


def test_named_room_type_finds_the_first_room_the_text_names():
    assert named_room_type("The ball is in the kids room near place 5 (seen Tuesday)") == "kids_room"
    assert named_room_type("It is in the living room, not the kitchen") == "living_room"
    assert named_room_type("in room 3 near place 2") == ""
    assert named_room_type("on the shoe rack, near place 5, 3.2 m north-east of the map origin") == ""


@pytest.mark.parametrize("text,x,correct,agrees", [
    ("The ball is in the kitchen near place 1.", 1.0, True, True),
    ("The ball is in the kids room near place 1.", 1.0, False, False),   # right position, text names another room
    ("The ball is in the kitchen near place 1.", 7.0, False, False),     # text right, position in another room
    ("The ball is near place 1, 2 m north of the map origin.", 1.0, True, None),   # names no room
])
def test_room_answers_are_scored_by_text_and_position(text, x, correct, agrees):
    r = Reply(ANSWERED, position_m=np.array([x, 1.0, 0.0]), text=text, probability=0.8)
    w = _World()
    assert score(r, _where(0, "kitchen"), w, lambda c: c, 0.5) == (correct, correct)
    assert text_room_agrees(r, w) is agrees


def test_base_rate_brier_is_the_best_constant():
    y = [True, True, True, False]
    assert base_rate_brier(y) == pytest.approx(0.75 * 0.25)
    for c in (0.5, 0.7, 0.8, 1.0):
        assert brier([c] * 4, y) >= base_rate_brier(y) - 1e-12


def test_summary_reports_raw_brier_spread_driven_efficiency_and_text_mismatch():
    s = summarize(correct=[True, True, False, True], guess_correct=[True, True, False, True],
                  probs=[0.9, 0.7, 0.5, 0.6], not_sure=[False] * 4, path_m=[0.0, 0.0, 4.0, 2.0],
                  efficiency=[1.0, 1.0, 0.25, 0.75], raw_probs=[0.95, None, 0.1, 0.9],
                  text_room_ok=[True, None, False, None])
    # the raw probability where there is one, else the stated one
    assert s["raw_brier"] == pytest.approx(brier([0.95, 0.7, 0.1, 0.9], [1, 1, 0, 1]), abs=1e-4)
    assert s["base_rate_brier"] == pytest.approx(0.75 * 0.25, abs=1e-4)
    assert s["confidence_std"] == pytest.approx(float(np.std([0.9, 0.7, 0.5, 0.6])), abs=1e-4)
    assert s["path_efficiency"] == pytest.approx(0.75)             # flattered by the two it never drove
    assert s["path_efficiency_driven"] == pytest.approx(0.5) and s["driven_share"] == pytest.approx(0.5)
    assert s["text_room_mismatch_rate"] == pytest.approx(0.5) and s["text_room_named_n"] == 2
    never = summarize([True], [True], [0.9], [False], [0.0], [1.0])
    assert never["path_efficiency_driven"] is None and never["driven_share"] == 0.0
