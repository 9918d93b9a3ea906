"""A belief that learns from its own looks (issue 19 items 1-2): the online map refits P(still there) from
the predictions looks verified (a miss is not read as gone), the stated confidence of memory-only answers
refits from the answers looks later confirmed or overturned, and a room memory does not know is ignorance,
not a certain "no"."""
from __future__ import annotations

import numpy as np
import pytest
from helpers.belief_world import NOW, PLACES, ROOMS, H, room_of

from memory_nodes.planner.answer import NOT_SURE
from memory_nodes.planner.calibration import OnlinePlatt
from memory_nodes.planner.fakes import FakeMemory, FakeNavigator, TrueObject
from memory_nodes.planner.planner import Planner
from memory_nodes.vocab.vocabulary import VocabConfig, Vocabulary


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary(VocabConfig(allow_model=False))


def test_online_map_is_the_identity_until_it_has_verifications():
    m = OnlinePlatt()
    assert [m.apply(p) for p in (0.0, 0.3, 0.9, 1.0)] == [0.0, pytest.approx(0.3), pytest.approx(0.9), 1.0]
    m.observe(0.0, False)           # certain by construction: nothing to learn
    m.observe(0.8, True, 0.5, 0.5)  # a look that cannot tell there from not there
    assert m.n == 0


def test_online_map_learns_what_the_looks_showed_and_reads_a_miss_as_a_miss():
    rng = np.random.default_rng(0)
    truth = OnlinePlatt()
    naive = OnlinePlatt()
    for _ in range(400):
        p = float(rng.uniform(0.5, 0.99))
        there = rng.random() < 0.5 * p                 # the model says p, the world keeps half of that
        seen = bool(there and rng.random() < 0.7)      # the detector misses 30 %
        truth.observe(p, seen, 0.7, 0.0)
        naive.observe(p, seen)                         # as if every look saw everything there
    for p in (0.6, 0.9):
        assert truth.apply(p) == pytest.approx(0.5 * p, abs=0.08)
        assert naive.apply(p) < truth.apply(p) - 0.05   # without the miss rate, a miss would read as gone
    again = OnlinePlatt()
    for r in truth._rows:
        again.observe(r[0], r[1], r[2], r[3])
    assert again.params == truth.params                # deterministic


def test_few_verifications_move_the_map_little():
    m = OnlinePlatt(prior_strength=20.0)
    for _ in range(3):
        m.observe(0.9, False, 0.85, 0.02)
    assert 0.6 < m.apply(0.9) < 0.9


def _planner(vocab, p_still, truth):
    mem = FakeMemory(PLACES, ROOMS, NOW)
    mem.add_object("mug_1", "mug", (3.3, 0.5, 0.8), 1, NOW - 5 * H, NOW - 2 * H, p_still=p_still)
    objs = [] if truth is None else [TrueObject("mug", truth, room_of(truth[0], truth[1]))]
    nav = FakeNavigator((0.0, 0.0, 0.0), objs, room_of_xy=room_of)
    return Planner(None, mem, nav, vocab), nav


def test_a_look_at_a_remembered_spot_tests_the_staleness_model(vocab):
    planner, nav = _planner(vocab, 0.4, (16.2, 0.5, 0.8))      # it moved to the bedroom
    planner.answer("where is my mug?", NOW, budget_m=60.0)
    assert nav.looks >= 1
    rows = planner.stay_map._rows
    assert rows and rows[0][0] == pytest.approx(0.4) and rows[0][1] is False   # looked there, not seen
    # and the memory-only answer it gave before looking was overturned by the looks
    assert planner.answer_map.n == 1 and planner.answer_map._rows[0][1] is False


def test_answers_confirmed_by_looks_raise_memory_only_confidence_and_overturned_ones_lower_it(vocab):
    up, _ = _planner(vocab, 0.6, (3.3, 0.5, 0.8))              # still where memory saw it
    down, _ = _planner(vocab, 0.6, (16.2, 0.5, 0.8))           # moved
    before = up.answer("where is my mug?", NOW, budget_m=0.0).probability
    for _ in range(15):
        up.answer("where is my mug?", NOW, budget_m=60.0)
        down.answer("where is my mug?", NOW, budget_m=60.0)
    assert up.answer_map.n >= 10 and down.answer_map.n >= 10
    assert up.answer("where is my mug?", NOW, budget_m=0.0).probability > before + 0.05
    assert down.answer("where is my mug?", NOW, budget_m=0.0).probability < before - 0.05


def test_a_room_memory_does_not_know_is_ignorance_not_a_certain_no(vocab):
    mem = FakeMemory(PLACES, ROOMS, NOW)
    mem.add_object("mug_1", "mug", (3.3, 0.5, 0.8), 1, NOW - 5 * H, NOW - 2 * H, p_still=0.9)
    planner = Planner(None, mem, None, vocab)
    for q in ("is there a plant in the dining room?", "how many plants are in the dining room?"):
        a = planner.answer(q, NOW, budget_m=0.0)
        assert a.probability is not None and a.probability <= 0.6 and a.status == NOT_SURE, (q, a)
    known = planner.answer("is there a plant in the kitchen?", NOW, budget_m=0.0)   # a room it knows
    assert known.best_guess == "No." and known.probability > 0.6
