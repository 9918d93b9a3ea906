""""What changed in Y since T" with a budget: the planner sweeps Y's places when memory's doubt is about
what it has not seen there lately (the answer's probability with and without recall.what_changed's
unseen terms) and the sweep's path is worth it; it stays put when memory looked there a minute ago, when
Y is out of reach, or with no budget."""
from __future__ import annotations

import pytest
from helpers.belief_world import NOW, PLACES, ROOMS, H, room_of

from memory_nodes.planner.answer import STOP_BUDGET, STOP_NO_VALUE
from memory_nodes.planner.fakes import FakeMemory, FakeNavigator, TrueObject
from memory_nodes.planner.planner import Planner
from memory_nodes.planner.recall import what_changed_and_look_value
from memory_nodes.vocab.vocabulary import VocabConfig, Vocabulary

MIN = 60 * 10**9
QUESTION = "what changed in the office since yesterday?"


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary(VocabConfig(allow_model=False))


def office_memory(last_seen_ns: int) -> FakeMemory:
    """A book and a lamp in the office (place 6, x = 25 m), memory's last look there at ``last_seen_ns``."""
    mem = FakeMemory(PLACES, ROOMS, NOW, room_of_xy=room_of)
    mem.add_object("book_1", "book", (25.3, 0.4, 0.8), 6, NOW - 72 * H, last_seen_ns)
    mem.add_object("lamp_1", "lamp", (25.6, -0.5, 1.0), 6, NOW - 72 * H, last_seen_ns)
    return mem


def nav() -> FakeNavigator:
    return FakeNavigator((0.0, 0.0, 0.0), [TrueObject("book", (25.3, 0.4, 0.8), 3)], room_of_xy=room_of)


def test_an_unseen_room_is_swept_when_the_walk_pays(vocab):
    mem = office_memory(NOW - 44 * H)                    # last looked at the office two days ago
    n = nav()
    planner = Planner(None, mem, n, vocab)
    decision, p_seen = what_changed_and_look_value(_ctx(planner, mem))
    assert decision.best.prob < 0.6 < p_seen             # unsure because of what it has not seen since
    a = planner.answer(QUESTION, NOW, budget_m=60.0)
    assert a.query_kind == "what_changed" and a.looks >= 1 and n.looks == a.looks
    assert 6 in a.visited_place_ids and a.path_m > 20.0 and a.stop_reason == STOP_NO_VALUE
    assert a.evidence.keyframe_refs                       # the look's view is part of the evidence


def test_no_sweep_without_budget_out_of_reach_or_after_a_fresh_look(vocab):
    stale = office_memory(NOW - 44 * H)
    a = Planner(None, stale, nav(), vocab).answer(QUESTION, NOW, budget_m=0.0)
    assert a.looks == 0 and a.path_m == 0.0
    n = nav()
    b = Planner(None, stale, n, vocab).answer(QUESTION, NOW, budget_m=10.0)   # the office is 25 m away
    assert b.looks == 0 and n.driven_m == 0.0 and b.stop_reason == STOP_BUDGET
    n = nav()
    c = Planner(None, office_memory(NOW - MIN), n, vocab).answer(QUESTION, NOW, budget_m=60.0)
    assert c.looks == 0 and n.driven_m == 0.0            # seen a minute ago: nothing a look would add


def _ctx(planner: Planner, mem: FakeMemory):
    from memory_nodes.planner.context import CountingMemory, Ctx
    q = planner.parse(QUESTION, NOW)
    assert q.ok and q.kind == "what_changed" and q.room == "office", q
    return Ctx(CountingMemory(mem), q, NOW, planner.config, planner.vocab, planner.stay_map)


def test_a_look_lists_what_it_saw_where_memory_held_nothing_and_had_looked(vocab):
    """After a sweep, a thing seen in Y where memory held none of its class is a change only where the robot's
    pose trail faced that spot in the window: elsewhere memory simply never saw it (not new)."""
    import numpy as np

    from memory_nodes.common.types import ObjectObservation
    from memory_nodes.planner.recall import changes_seen_now
    mem = office_memory(NOW - 20 * H)                                   # book and lamp, seen this morning
    mem.add_pose(NOW - 20 * H, (22.5, 0.0), 6, yaw_rad=0.0, room_id=3)   # faced east over the office's west half
    planner = Planner(None, mem, nav(), vocab)
    ctx = _ctx(planner, mem)

    def obs(cls, xyz):
        c = np.asarray(xyz, float)
        return ObjectObservation(NOW + 1, cls, 0.9, c, c - 0.05, c + 0.05)
    seen = [obs("book", (25.35, 0.45, 0.8)),        # where memory had the book: no change
            obs("mug", (24.0, 0.2, 0.8)),           # a mug where the robot had looked: new there
            obs("plant", (23.0, -3.5, 0.5))]        # beside / behind the robot then: unknown, not listed
    since = NOW - 24 * H
    assert changes_seen_now(ctx, seen, [3], since, 0.8) == {"mug": 0.8}
    d, _ = what_changed_and_look_value(ctx, {"mug": 0.8})
    assert d.best.items == ["mug"] and "mug" in d.best.text
