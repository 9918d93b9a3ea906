"""Confidences that come from evidence (issue 19 item 1): the staleness model's P(still there) ranks a fresh
repeated sighting above an old sighting of an object that moves daily, and its hazard grows with the moves
memory saw; past counts read memory's state at the asked time; a look's detection answers for a coloured
target only if its colour fits; recall confidences follow the days of evidence behind them."""
from __future__ import annotations

import numpy as np
import pytest
from helpers.belief_world import NOW, PLACES, ROOMS, H, room_of

from memory_nodes.common.types import ObjectObservation, PerceptionOutput
from memory_nodes.memory import MemoryConfig, MemoryCore, StoreConfig
from memory_nodes.memory.config import NS_PER_DAY, NS_PER_S, StalenessConfig
from memory_nodes.memory.staleness import MoveStats, class_posterior, object_prior, p_no_move, with_absences
from memory_nodes.planner.fakes import FakeMemory, FakeNavigator, TrueObject
from memory_nodes.planner.planner import Planner
from memory_nodes.planner.recall import usual_place_probabilities
from memory_nodes.vocab.vocabulary import VocabConfig, Vocabulary


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary(VocabConfig(allow_model=False))


def _object_p(cfg, category, class_moves, class_days, own_moves, own_days, elapsed_ns, absences=0):
    a_c, b_c = class_posterior(cfg, category, MoveStats(class_moves, class_days))
    a0, b0 = object_prior(cfg, a_c, b_c)
    p = p_no_move(a0 + own_moves, b0 + own_days, elapsed_ns)
    return with_absences(p, absences, 0.15)


def test_a_fresh_repeated_sighting_reads_far_above_a_week_old_sighting_of_a_daily_mover():
    cfg = StalenessConfig()
    fresh = _object_p(cfg, "small", 2, 20, 0, 5, 60 * NS_PER_S)                  # seen a minute ago
    daily = _object_p(cfg, "small", 14, 14, 7, 7, 7 * NS_PER_DAY)               # moves daily, seen a week ago
    assert fresh >= 0.9 and daily <= 0.1
    # absences seen since lower even a fresh sighting, and more of them lower it more
    assert _object_p(cfg, "small", 2, 20, 0, 5, 60 * NS_PER_S, absences=2) < \
        _object_p(cfg, "small", 2, 20, 0, 5, 60 * NS_PER_S, absences=1) < fresh


def test_the_hazard_grows_with_the_moves_memory_saw_of_the_object_and_of_its_class():
    cfg = StalenessConfig()
    dt = NS_PER_DAY // 2
    by_own = [_object_p(cfg, "small", 5, 50, m, 10, dt) for m in (0, 3, 10)]
    assert by_own[0] > by_own[1] > by_own[2]
    by_class = [_object_p(cfg, "small", m, 50, 0, 10, dt) for m in (0, 20, 80)]
    assert by_class[0] > by_class[1] > by_class[2]
    # and a quiet object of a busy class reads higher than the class does (shrinkage to its own record)
    busy_class_quiet_object = _object_p(cfg, "small", 80, 50, 0, 60, dt)
    busy_class_new_object = _object_p(cfg, "small", 80, 50, 0, 0, dt)
    assert busy_class_quiet_object > busy_class_new_object + 0.1


def _obs(t, cls, p):
    p = np.asarray(p, float)
    return ObjectObservation(t, cls, 0.9, p, p - 0.05, p + 0.05, 100, (0.2, 0.3, 0.8), None, 2.0)


def test_memory_reads_a_fresh_sighting_higher_than_the_same_sighting_days_later(tmp_path, vocab):
    mem = MemoryCore.open(str(tmp_path / "m.db"), MemoryConfig(store=StoreConfig(path="x")), vocab=vocab)
    t0 = 100 * NS_PER_S
    for k in range(10):
        mem.ingest(PerceptionOutput(t0 + k * NS_PER_S, [_obs(t0 + k * NS_PER_S, "mug", (1.0, 0.0, 0.8))]))
    oid = mem.last_seen("mug")[0].object_id
    last = t0 + 9 * NS_PER_S
    ps = [mem.p_still_there(oid, last + dt) for dt in (60 * NS_PER_S, NS_PER_DAY, 7 * NS_PER_DAY)]
    assert ps[0] >= 0.9 and ps[0] > ps[1] > ps[2] and ps[2] < 0.5
    mem.close()


def test_a_past_count_reads_what_memory_knew_then_not_only_what_it_saw_in_the_window(vocab):
    mem = FakeMemory(PLACES, ROOMS, NOW)
    # two mugs seen in the kitchen this morning around 10:00 (no patrol at 14:00), still there by the model
    for i, x in enumerate((0.5, 1.5)):
        mem.add_object(f"mug_{i}", "mug", (x, 0.5, 0.8), 0, NOW - 6 * H, NOW - 5 * H, p_still=0.95)
    planner = Planner(None, mem, None, vocab)
    a = planner.answer("how many mugs were in the kitchen today at 2 pm?", NOW, budget_m=0.0)
    assert a.count == 2, a
    assert 0.5 < a.raw_probability < 0.95            # two instances and a possibly unseen one: not certain
    none = planner.answer("how many plants were in the kitchen today at 2 pm?", NOW, budget_m=0.0)
    assert none.count == 0 and none.raw_probability < 0.9


def test_a_look_that_finds_another_colour_does_not_answer_for_the_asked_one(vocab):
    mem = FakeMemory(PLACES, ROOMS, NOW)
    mem.add_object("mug_w", "mug", (3.3, 0.5, 0.8), 1, NOW - 30 * H, NOW - 28 * H, p_still=0.3,
                   color=(0.95, 0.95, 0.95))
    # the white mug is gone from the home; a black mug (the fake camera's colour) stands in the bedroom
    nav = FakeNavigator((0.0, 0.0, 0.0), [TrueObject("mug", (16.2, 0.5, 0.8), 2)], room_of_xy=room_of)
    planner = Planner(None, mem, nav, vocab)
    a = planner.answer("where is my white mug?", NOW, budget_m=60.0)
    assert nav.looks >= 1
    assert a.room_id != 2 or a.probability < 0.5, a     # the black mug it saw is not the white one
    nav2 = FakeNavigator((0.0, 0.0, 0.0), [TrueObject("mug", (16.2, 0.5, 0.8), 2)], room_of_xy=room_of)
    b = Planner(None, mem, nav2, vocab).answer("where is my mug?", NOW, budget_m=60.0)
    assert b.room_id == 2 and b.probability > 0.5     # without a colour, any mug answers


def test_where_usually_confidence_grows_with_the_days_it_agrees():
    p = usual_place_probabilities
    one = p([{"office": 5.0}])
    assert 0.5 < one["office"] < 0.95                       # one day is a hint, not a habit
    week = p([{"office": 5.0}] * 7)
    assert week["office"] > 0.97 > one["office"]
    split = p([{"office": 3.0, "kitchen": 1.0}, {"kitchen": 2.0}, {"office": 4.0}])
    assert split["office"] > split["kitchen"] and sum(split.values()) <= 1.0   # the rest: somewhere not seen
    # a habit split 40/30/30 has a usual place: P(most time) is not P(more often than not)
    three = p([{"a": 4.0, "b": 3.0, "c": 3.0}] * 10)
    assert three["a"] > 0.9 > three["b"]
    # a day seen longer says no more about the habit than a day seen briefly
    assert p([{"a": 100.0}, {"b": 1.0}])["a"] == pytest.approx(p([{"a": 1.0}, {"b": 1.0}])["a"])
    assert p([]) == {} and p([{"a": 1.0}]) == p([{"a": 1.0}])   # seeded: the same answer twice


def test_absences_are_read_with_the_objects_own_learned_miss_rate(tmp_path, vocab):
    """An absence of an object the detector often missed before (absences later contradicted by a sighting)
    says less than one of an object it always finds; repeated absences from one viewpoint count once."""
    mem = MemoryCore.open(str(tmp_path / "m.db"), MemoryConfig(store=StoreConfig(path="x")), vocab=vocab)
    t0 = 100 * NS_PER_S
    for k in range(10):
        mem.ingest(PerceptionOutput(t0 + k * NS_PER_S, [_obs(t0 + k * NS_PER_S, "mug", (1.0, 0.0, 0.8))]))
    q = mem._queries
    tr = next(iter(q.s.tracks.values()))
    stay = tr.stay
    t_abs = stay.end_ns + 3600 * NS_PER_S
    tr.absence_stamps, tr.absences_since_seen, tr.absence_vps, tr.absences_through = [t_abs], 1, [[2.0, 0.0, 0.0]], 0
    at = t_abs + NS_PER_S
    tr.proven_misses, tr.views_seen = 0, 30
    reliable = q.p_stay_still_there(tr, stay, at)
    tr.proven_misses, tr.views_seen = 20, 30
    often_missed = q.p_stay_still_there(tr, stay, at)
    assert q.miss_rate(tr) > 0.3 and often_missed > reliable + 0.2
    # five absences, all from the one viewpoint: one piece of evidence, not five
    tr.absence_stamps, tr.absences_since_seen = [t_abs] * 5, 5
    assert q.p_stay_still_there(tr, stay, at) == pytest.approx(often_missed)
    tr.absence_vps = [[2.0, 0.0, 0.0], [0.0, 2.0, 1.5], [-2.0, 0.0, 3.0]]
    assert q.p_stay_still_there(tr, stay, at) < often_missed - 0.1
    mem.close()


@pytest.mark.parametrize("question", ["Tomorrow morning, will I find my mug in the bedroom?",
                                      "Out of the past six days, how many had the mug in the kitchen?"])
def test_a_look_now_is_not_taken_for_a_time_ahead_or_a_span_of_days(vocab, question):
    mem = FakeMemory(PLACES, ROOMS, NOW)
    mem.add_object("mug_1", "mug", (3.3, 0.5, 0.8), 1, NOW - 30 * H, NOW - 28 * H, p_still=0.4)
    nav = FakeNavigator((0.0, 0.0, 0.0), [TrueObject("mug", (16.2, 0.5, 0.8), 2)], room_of_xy=room_of)
    planner = Planner(None, mem, nav, vocab)
    q = planner.parse(question, NOW)
    a = planner.answer(q, NOW, budget_m=60.0)
    assert q.window is not None and nav.looks == 0 and a.path_m == 0.0, (q, a)
    # the same memory, asked about now, is worth a look
    assert planner.answer("where is my mug?", NOW, budget_m=60.0).path_m > 0.0


def test_a_thing_that_keeps_coming_back_to_its_spot_is_not_written_off_by_one_absence(tmp_path, vocab):
    """Seen at one spot on many days, then missed there once: likely put back after use, so P(there) stays
    well above that of a thing seen there on one day only, with the same absence."""
    def p_after_absence(days_seen: int) -> float:
        mem = MemoryCore.open(str(tmp_path / f"m{days_seen}.db"), MemoryConfig(store=StoreConfig(path="x")),
                              vocab=vocab)
        for d in range(days_seen):
            t0 = d * NS_PER_DAY + 36000 * NS_PER_S
            for k in range(5):
                mem.ingest(PerceptionOutput(t0 + k * NS_PER_S, [_obs(t0 + k * NS_PER_S, "mug", (1.0, 0.0, 0.8))]))
        q = mem._queries
        tr = next(iter(q.s.tracks.values()))
        stay = tr.stay
        t_abs = (days_seen * NS_PER_DAY) + 36000 * NS_PER_S
        tr.absence_stamps, tr.absences_since_seen, tr.absence_vps, tr.absences_through = [t_abs], 1, [], 1
        p = q.p_stay_still_there(tr, stay, t_abs + 3 * 3600 * NS_PER_S)
        mem.close()
        return p

    once, habitual = p_after_absence(1), p_after_absence(6)
    assert habitual > once + 0.3 and habitual < 0.95
