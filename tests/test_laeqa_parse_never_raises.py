"""The parser refuses, never raises: a days-seen question naming no room used to raise InputError
(bad_query: days_seen needs a room or a receptacle) out of Planner.answer, which killed a bench.laeqa
--fit run on the dev homes."""
from __future__ import annotations

from memory_nodes.planner.fakes import FakeMemory
from memory_nodes.planner.planner import Planner
from memory_nodes.vocab.vocabulary import VocabConfig, Vocabulary

NOW = 1715871600 * 10**9


def test_a_days_seen_question_without_a_room_is_refused_with_a_reason():
    planner = Planner(None, FakeMemory({0: (0, 0, 0)}, {0: "kitchen"}, NOW), None,
                      Vocabulary(VocabConfig(allow_model=False)))
    for text in ("On how many of the last 4 days did you see the milk carton?",
                 "In the last four days, on how many days was my water bottle there?"):
        a = planner.answer(text, NOW)
        assert a.status == "CANNOT_PARSE" and a.query.reason_code == "no_target"
        assert "needs a room" in a.query.reason
