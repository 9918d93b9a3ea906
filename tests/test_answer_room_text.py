"""The room an answer's text names is the room memory's room map puts the answer's position in (issue 19: the
LA-EQA run found "in the bathroom" with a reported position inside another room). A sighting's stored room
(the room of the place it was filed under) can differ from the room holding its position: the text follows
the position; where memory's map holds no room there (or there is no map) the stored room stands. The
evidence behind the answer is the sighting's, unchanged."""
from __future__ import annotations

import numpy as np
import pytest
from helpers.belief_world import NOW, PLACES, ROOMS, H, room_of

from memory_nodes.common.types import PerceptionOutput, Place, PlaceGraph, Room, RoomSegmentation
from memory_nodes.memory import MemoryCore
from memory_nodes.memory.config import NS_PER_S
from memory_nodes.planner.fakes import FakeMemory, FakeNavigator, TrueObject
from memory_nodes.planner.planner import Planner
from memory_nodes.vocab.vocabulary import VocabConfig, Vocabulary

# filed under place 3 (the living room's, x = 11) but standing at x = 14.2: the bedroom (x 13.5 .. 22) by the map
PHONE_XYZ = (14.2, 0.5, 0.8)


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary(VocabConfig(allow_model=False))


def _memory(room_of_xy=room_of) -> FakeMemory:
    mem = FakeMemory(PLACES, ROOMS, NOW, room_of_xy=room_of_xy)
    mem.add_object("phone_1", "phone", PHONE_XYZ, 3, NOW - 3 * H, NOW - H, p_still=0.95)
    assert mem.sightings["phone_1"].room_id == 1            # the stored room: the living room
    return mem


def test_a_where_answer_names_the_room_that_holds_its_position_not_the_stored_one(vocab):
    mem = _memory()
    evidence = mem.sightings["phone_1"].evidence
    a = Planner(None, mem, None, vocab).answer("where is my phone?", NOW, budget_m=0.0)
    assert a.position_m is not None and room_of(a.position_m[0], a.position_m[1]) == 2
    assert "bedroom" in a.answer and "living room" not in a.answer, a.answer
    assert a.room_id == 2 and a.room_label == "bedroom"
    assert a.top_answers and "bedroom" in a.top_answers[0].text and a.top_answers[0].room_id == 2
    # the evidence is the stored sighting's: the same observations, places and object
    assert a.evidence.observation_ids == evidence.observation_ids
    assert a.evidence.object_ids == ["phone_1"] and 3 in a.evidence.place_ids


@pytest.mark.parametrize("question", ["when did you last see my phone?", "where was my phone today at 1 pm?",
                                      "where is my phone usually?"])
def test_past_answers_name_the_room_of_the_position_too(vocab, question):
    a = Planner(None, _memory(), None, vocab).answer(question, NOW, budget_m=0.0)
    assert "bedroom" in a.answer and "living room" not in a.answer, a.answer


@pytest.mark.parametrize("room_of_xy", [None, lambda x, y: -1], ids=["no room map", "position in no room"])
def test_without_a_room_for_the_position_the_stored_room_stands(vocab, room_of_xy):
    a = Planner(None, _memory(room_of_xy), None, vocab).answer("where is my phone?", NOW, budget_m=0.0)
    assert "living room" in a.answer and a.room_id == 1, a.answer


def test_a_look_that_finds_it_names_the_room_of_the_detection_not_of_the_nearest_place(vocab):
    """Found at x = 5.3: nearest to place 1 (the kitchen's, x = 3) but inside the living room (x >= 5)."""
    mem = FakeMemory(PLACES, ROOMS, NOW, room_of_xy=room_of)
    mem.add_object("phone_1", "phone", (0.5, 0.5, 0.8), 0, NOW - 30 * H, NOW - 28 * H, p_still=0.2)
    nav = FakeNavigator((0.0, 0.0, 0.0), [TrueObject("phone", (5.3, 0.5, 0.8), 1)], room_of_xy=room_of)
    a = Planner(None, mem, nav, vocab).answer("where is my phone?", NOW, budget_m=60.0)
    assert nav.looks >= 1 and a.position_m is not None
    assert float(np.linalg.norm(a.position_m[:2] - np.array([5.3, 0.5]))) < 0.1, a
    assert "living room" in a.answer and "kitchen" not in a.answer, a.answer
    assert a.room_id == 1


def test_memory_core_room_at_reads_its_room_cut():
    """MemoryCore.room_at: the room cut's room of a position, the observed room without a cut, -1 in none."""
    mem = MemoryCore.in_memory()
    assert mem.room_at(np.array([1.0, 1.0, 0.0]), 4) == 4                 # no cut yet: the observed room
    t0 = 100 * NS_PER_S
    grid = np.zeros((8, 16), np.int16)
    grid[:, 8:] = 1                                                       # kitchen x < 4 m, living room beyond
    seg = RoomSegmentation(t0, [Room(0, "kitchen", 0.9, np.array([2.0, 2.0, 0.0])),
                                Room(1, "living room", 0.9, np.array([6.0, 2.0, 0.0]))], grid, 0.5, (0.0, 0.0))
    places = PlaceGraph(t0, [Place(0, np.array([2.0, 2.0, 0.0]), 0, t0, t0)], [])
    mem.ingest(PerceptionOutput(t0, [], place_id=0, places=places, rooms=seg))
    assert mem.room_at(np.array([1.0, 1.0, 0.8]), 1) == 0
    assert mem.room_at(np.array([6.0, 1.0, 0.8]), 0) == 1
    assert mem.room_at(np.array([40.0, 40.0, 0.0]), 0) == -1              # far from every room: none
    mem.close()
