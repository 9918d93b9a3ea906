"""Counts and presence from memory alone: a thing memory saw in the asked room still counts there when it
may have moved within it, and tracks memory lost and found again are not extra instances."""
from __future__ import annotations

import pytest

from memory_nodes.planner.answer import ANSWERED
from memory_nodes.planner.config import PlannerConfig
from memory_nodes.planner.fakes import FakeMemory
from memory_nodes.planner.planner import Planner
from memory_nodes.vocab.vocabulary import VocabConfig, Vocabulary

H = 3600 * 10**9
D = 24 * H
NOW = 1715871600 * 10**9          # Thursday 2024-05-16 15:00
ROOMS = {0: "kitchen", 1: "living room", 2: "bedroom"}
# the living room holds most of the home's places: a thing moving within the home most often stays in it
PLACES = {0: (0, 0, 0), 1: (6, 0, 1), 2: (7, 0, 1), 3: (8, 0, 1), 4: (9, 0, 1), 5: (10, 0, 1), 6: (16, 0, 2)}


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary(VocabConfig(allow_model=False))


def _count(mem, vocab):
    return Planner(PlannerConfig(), mem, None, vocab).answer("how many mugs are in the living room?", NOW)


def test_a_thing_that_may_have_moved_within_the_room_still_counts_there(vocab):
    mem = FakeMemory(PLACES, ROOMS, NOW)
    mem.add_object("mug_1", "mug", (8.2, 0.5, 0.8), 3, NOW - 2 * D, NOW - 29 * H, p_still=0.6)
    a = _count(mem, vocab)
    # P(still at its spot) 0.6, and moved it most likely stays in this room: one mug, said without doubt
    assert a.count == 1 and a.status == ANSWERED and a.raw_probability > 0.6


def test_stale_tracks_of_one_thing_seen_again_are_not_extra_instances(vocab):
    def home(n_stale: int) -> FakeMemory:
        mem = FakeMemory(PLACES, ROOMS, NOW)
        mem.add_object("mug_now", "mug", (8.2, 0.5, 0.8), 3, NOW - 30 * H, NOW - 5 * H, p_still=0.95)
        for i in range(n_stale):    # one mug a day, each day a new track (identity lost), never two at once
            mem.add_object(f"mug_old{i}", "mug", (0.3, 0.2 * i, 0.8), 0, NOW - (i + 3) * D, NOW - (i + 3) * D + H,
                           p_still=0.02)
        return mem
    one, many = _count(home(0), vocab), _count(home(4), vocab)
    assert one.count == many.count == 1
    # four stale tracks of what memory never saw as more than one mug at once do not make a second mug likely
    assert many.raw_probability > one.raw_probability - 0.1


def test_still_there_asks_about_the_thing_memory_saw_not_an_instance_it_never_saw(vocab):
    mem = FakeMemory(PLACES, ROOMS, NOW)
    mem.add_object("table_1", "table", (8.0, 0.0, 0.4), 3, NOW - 6 * D, NOW - 5 * H, p_still=1.0)
    mem.add_object("mug_1", "mug", (8.2, 0.3, 0.8), 3, NOW - 2 * D, NOW - 29 * H, p_still=0.35)
    p = Planner(PlannerConfig(), mem, None, vocab)
    still = p.answer("is my mug still on the table?", NOW)
    any_mug = p.answer("is there a mug on the table?", NOW)
    # a mug memory never saw there may be on the table (any mug will do), but only the seen one is "still" there
    assert any_mug.yes_no is True
    assert still.yes_no is False
