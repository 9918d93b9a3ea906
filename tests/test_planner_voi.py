"""Behaviour of the value-of-information planner (issue 7 item 6), with an in-process memory and robot."""
from __future__ import annotations

import math

import numpy as np
import pytest

from memory_nodes.planner.answer import ANSWERED, CANNOT_PARSE, NOT_SURE, STOP_CANCELLED, STOP_PAST
from memory_nodes.planner.config import PlannerConfig
from memory_nodes.planner.fakes import FakeMemory, FakeNavigator, TrueObject
from memory_nodes.planner.planner import Planner
from memory_nodes.vocab.vocabulary import VocabConfig, Vocabulary

H = 3600 * 10**9
NOW = 1715871600 * 10**9          # Thursday 2024-05-16 15:00
ROOMS = {0: "kitchen", 1: "living room", 2: "bedroom", 3: "office"}


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary(VocabConfig(allow_model=False))


def line_world(places=None):
    """Rooms along the x axis: kitchen x<5, living room x<13.5, bedroom x<22, office beyond."""
    places = places or {0: (0, 0, 0), 1: (3, 0, 0), 2: (8, 0, 1), 3: (11, 0, 1), 4: (16, 0, 2), 5: (19, 0, 2),
                        6: (25, 0, 3)}

    def room_of(x, y):
        return 0 if x < 5 else 1 if x < 13.5 else 2 if x < 22 else 3
    return places, room_of


def make(vocab, p_still=0.97, truth=(3.3, 0.5, 0.8), seen_at=(3.3, 0.5, 0.8), seen_place=1, cfg=None,
         start=(0.0, 0.0, 0.0), **nav_kw):
    places, room_of = line_world()
    mem = FakeMemory(places, ROOMS, NOW)
    mem.add_object("mug_1", "mug", seen_at, seen_place, NOW - 5 * H, NOW - 2 * H, p_still=p_still)
    objs = [] if truth is None else [TrueObject("mug", truth, room_of(truth[0], truth[1]))]
    nav = FakeNavigator(start, objs, room_of_xy=room_of, **nav_kw)
    return Planner(cfg or PlannerConfig(), mem, nav, vocab), mem, nav


def test_fresh_certain_memory_answers_without_moving(vocab):
    planner, _, nav = make(vocab, p_still=0.99)
    a = planner.answer("where is my mug?", NOW, budget_m=50.0)
    assert a.status == ANSWERED and a.room_id == 0 and a.place_id == 1
    assert a.path_m == 0.0 and nav.goals == [] and nav.looks == 0
    assert a.probability > 0.9
    assert "mug_1" in a.evidence.object_ids and a.evidence.observation_ids


def test_stale_memory_of_a_volatile_object_explores_and_finds_it(vocab):
    planner, _, nav = make(vocab, p_still=0.3, truth=(16.2, 0.5, 0.8))
    memory_only = planner.answer("where is my mug?", NOW, budget_m=0.0)
    assert memory_only.path_m == 0.0 and memory_only.probability < 0.8
    a = planner.answer("where is my mug?", NOW, budget_m=60.0)
    assert nav.looks >= 1 and a.path_m > 0
    assert a.status == ANSWERED and a.room_id == 2          # found it in the bedroom
    assert a.probability > memory_only.probability


def corridor_world():
    """Seven one-place rooms along a corridor, 4 m apart (so a single unlikely room decides little)."""
    labels = ["kitchen", "garage", "bedroom", "office", "bathroom", "laundry room", "hallway"]
    places = {i: (4.0 * i, 0.0, i) for i in range(7)}
    rooms = {i: labels[i] for i in range(7)}
    return places, rooms, (lambda x, y: int(round(x / 4.0)))


def test_far_likely_place_beats_near_unlikely_one(vocab):
    places, rooms, room_of = corridor_world()
    mem = FakeMemory(places, rooms, NOW)
    mem.add_object("keys_near", "keys", (4.2, 0.3, 0.8), 1, NOW - 30 * H, NOW - 20 * H, p_still=0.05)
    mem.add_object("keys_far", "keys", (20.2, 0.3, 0.8), 5, NOW - 3 * H, NOW - 2 * H, p_still=0.45)
    # VOI's choice of where to drive, alone: the far likely place
    cfg = PlannerConfig()
    cfg.explore.stop_on_the_way = False
    nav = FakeNavigator((0.0, 0.0, 0.0), [TrueObject("keys", (20.2, 0.3, 0.8), 5)], room_of_xy=room_of)
    a = Planner(cfg, mem, nav, vocab).answer("where are my keys?", NOW, budget_m=60.0)
    assert nav.goals, "expected the robot to go and look"
    assert nav.goals[0][:2] == (20.0, 0.0), f"went to {nav.goals[0]} first"
    assert a.status == ANSWERED and a.room_id == 5 and a.path_m == pytest.approx(20.0)
    # with the stop on the way (the default) it glances from the places it passes (each 0 m off the way,
    # each a possible spot of the keys) and still ends at the far likely one: the same 20 m, never back
    nav = FakeNavigator((0.0, 0.0, 0.0), [TrueObject("keys", (20.2, 0.3, 0.8), 5)], room_of_xy=room_of)
    a = Planner(PlannerConfig(), mem, nav, vocab).answer("where are my keys?", NOW, budget_m=60.0)
    xs = [g[0] for g in nav.goals]
    assert xs[0] == 4.0 and xs[-1] == 20.0 and xs == sorted(xs), f"went to {nav.goals}"
    assert a.status == ANSWERED and a.room_id == 5 and a.path_m == pytest.approx(20.0)


def test_equal_odds_the_worse_seen_place_is_visited_later(vocab):
    places = {0: (0, 0, 0), 1: (6, 0, 1), 2: (-6, 0, 2)}
    rooms = {0: "kitchen", 1: "living room", 2: "bedroom"}

    def room_of(x, y):
        return 0 if -3 < x < 3 else 1 if x >= 3 else 2
    mem = FakeMemory(places, rooms, NOW)
    # equally likely: one right next to its viewpoint, one 2.5 m from it (seen worse)
    mem.add_object("book_a", "book", (6.3, 0.0, 0.5), 1, NOW - 9 * H, NOW - 8 * H, p_still=0.4)
    mem.add_object("book_b", "book", (-6.0, 2.5, 0.5), 2, NOW - 9 * H, NOW - 8 * H, p_still=0.4)
    nav = FakeNavigator((0.0, 0.0, 0.0), [TrueObject("book", (-6.0, 2.5, 0.5), 2)], room_of_xy=room_of)
    cfg = PlannerConfig()
    cfg.belief.use_habits = False
    a = Planner(cfg, mem, nav, vocab).answer("where is the book?", NOW, budget_m=40.0)
    xs = [g[0] for g in nav.goals]
    assert xs and xs[0] == 6.0, f"goal order {nav.goals}"
    assert a.status == ANSWERED and a.room_id == 2


def _random_world(vocab, seed: int, lam: float, budget: float, selection: str = "voi"):
    rng = np.random.default_rng(seed)
    places, room_of = line_world()
    mem = FakeMemory(places, ROOMS, NOW)
    n = int(rng.integers(1, 3))
    for k in range(n):
        pid = int(rng.integers(0, 7))
        x, y, _ = places[pid]
        mem.add_object(f"cup_{k}", "mug", (x + rng.uniform(-1, 1), y + rng.uniform(-1, 1), 0.8), pid,
                       NOW - 9 * H, NOW - int(rng.integers(1, 8)) * H, p_still=float(rng.uniform(0.05, 0.9)))
    tp = int(rng.integers(0, 7))
    tx, ty, _ = places[tp]
    truth = (tx + 0.4, ty + 0.3, 0.8)
    nav = FakeNavigator((0.0, 0.0, 0.0), [TrueObject("mug", truth, room_of(truth[0], truth[1]))], room_of_xy=room_of)
    cfg = PlannerConfig()
    cfg.utility.lambda_per_m = lam
    cfg.explore.selection = selection
    return Planner(cfg, mem, nav, vocab), nav


@pytest.mark.parametrize("seed", range(12))
def test_higher_lambda_never_lengthens_the_path(vocab, seed):
    """Provable with the lambda-independent "rate" order: the same looks, stopped earlier."""
    paths = []
    for lam in (0.0, 0.002, 0.005, 0.01, 0.03, 0.1, 0.5):
        planner, nav = _random_world(vocab, seed, lam, 80.0, selection="rate")
        a = planner.answer("where is the mug", NOW, budget_m=80.0)
        paths.append(a.path_m)
        assert a.path_m == pytest.approx(nav.driven_m)
    assert all(b <= a + 1e-9 for a, b in zip(paths, paths[1:])), paths
    assert paths[-1] < 25.0


def test_no_move_when_no_observation_could_change_the_answer(vocab):
    # latest-map belief: the object is where it was last seen, with certainty; a look cannot change that
    cfg = PlannerConfig()
    cfg.belief.use_staleness = False
    cfg.belief.use_absences = False
    planner, _, nav = make(vocab, p_still=0.2, truth=(16.2, 0.5, 0.8), cfg=cfg)
    a = planner.answer("where is my mug?", NOW, budget_m=80.0)
    assert nav.goals == [] and nav.looks == 0 and a.path_m == 0.0
    # a detector too poor for any single look to flip the decision
    cfg = PlannerConfig()
    cfg.detector.miss_rate = 0.9
    cfg.detector.false_positive_rate = 0.08
    cfg.utility.look_cost = 0.0
    planner, _, nav = make(vocab, p_still=0.97, cfg=cfg)
    a = planner.answer("where is my mug?", NOW, budget_m=80.0)
    assert nav.goals == [] and nav.looks == 0 and a.status == ANSWERED


@pytest.mark.parametrize("question", ["where was the mug yesterday?", "when did you last see the mug?",
                                      "where is the mug usually?", "since when has the mug been there?",
                                      "where was my mug the last time you saw it?",
                                      "was there a mug in the kitchen this morning?"])
def test_past_tense_never_moves(vocab, question):
    planner, mem, nav = make(vocab, p_still=0.1, truth=(16.2, 0.5, 0.8))
    mem.add_span("mug_1", "mug", (3.3, 0.5, 0.8), 1, NOW - 30 * H, NOW - 26 * H)
    a = planner.answer(question, NOW, budget_m=100.0)
    assert a.query_kind != "cannot_parse", a.reason
    assert nav.goals == [] and nav.looks == 0 and a.path_m == 0.0
    assert a.stop_reason == STOP_PAST
    assert a.status in (ANSWERED, NOT_SURE)


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("budget", [0.0, 4.0, 9.0, 17.0])
def test_budget_is_never_exceeded(vocab, seed, budget):
    planner, nav = _random_world(vocab, seed, 0.002, budget)
    a = planner.answer("where is the mug", NOW, budget_m=budget)
    assert nav.driven_m <= budget + 1e-9 and a.path_m <= budget + 1e-9


def test_cancel_stops_the_robot(vocab):
    planner, _, nav = make(vocab, p_still=0.05, truth=(25.5, 0.5, 0.8))
    cancelled = {"flag": False, "looks": -1}

    def on_go_to(_nav):
        cancelled["flag"] = True           # the user cancels while the robot drives to its first goal
        cancelled["looks"] = _nav.looks
    nav.on_go_to = on_go_to
    a = planner.answer("where is my mug?", NOW, budget_m=100.0, should_stop=lambda: cancelled["flag"])
    assert len(nav.goals) == 1 and nav.looks == cancelled["looks"]     # no look after the cancel
    assert a.stop_reason == STOP_CANCELLED
    # without the cancel the same question drives further
    planner, _, nav2 = make(vocab, p_still=0.05, truth=(25.5, 0.5, 0.8))
    planner.answer("where is my mug?", NOW, budget_m=100.0)
    assert len(nav2.goals) > 1


@pytest.mark.parametrize("question", ["is the oven on?", "what is the table made of?", "can I sit on the box?"])
def test_out_of_scope_question_gets_cannot_parse(vocab, question):
    planner, _, nav = make(vocab)
    a = planner.answer(question, NOW, budget_m=50.0)
    assert a.status == CANNOT_PARSE and a.reason.startswith("out of scope")
    assert nav.goals == [] and a.memory_reads == 0


def test_feedback_reports_targets_and_distance(vocab):
    planner, _, nav = make(vocab, p_still=0.3, truth=(16.2, 0.5, 0.8))
    seen = []
    planner.answer("where is my mug?", NOW, budget_m=60.0, on_feedback=seen.append)
    phases = [f.phase for f in seen]
    assert phases[0] == "recall" and "navigating" in phases and "looking" in phases
    nav_fb = [f for f in seen if f.phase == "navigating" and f.target_place_id >= 0]
    assert nav_fb and nav_fb[0].top_answers and math.isclose(sum(c.probability for c in nav_fb[0].top_answers[:1]),
                                                              nav_fb[0].top_answers[0].probability)
    assert seen[-1].distance_travelled_m <= nav.driven_m


def test_count_and_exists_explore_and_update(vocab):
    places, room_of = line_world()
    mem = FakeMemory(places, ROOMS, NOW)
    mem.add_object("mug_1", "mug", (8.5, 0.5, 0.8), 2, NOW - 9 * H, NOW - 8 * H, p_still=0.5)
    mem.add_object("mug_2", "mug", (11.5, 0.5, 0.8), 3, NOW - 9 * H, NOW - 8 * H, p_still=0.5)
    truth = [TrueObject("mug", (8.5, 0.5, 0.8), 1), TrueObject("mug", (11.5, 0.5, 0.8), 1)]
    nav = FakeNavigator((0.0, 0.0, 0.0), truth, room_of_xy=room_of)
    planner = Planner(PlannerConfig(), mem, nav, vocab)
    before = planner.answer("how many mugs are in the living room?", NOW, budget_m=0.0)
    a = planner.answer("how many mugs are in the living room?", NOW, budget_m=40.0)
    assert a.count == 2 and a.status == ANSWERED and a.probability > before.probability and nav.looks >= 1
    e = planner.answer("is there a mug in the living room?", NOW, budget_m=40.0)
    assert e.yes_no is True and e.status == ANSWERED


@pytest.mark.parametrize("truth_x", [3.4, 11.4, 19.4, 25.4])
def test_higher_lambda_never_lengthens_the_path_in_the_stale_mug_scenarios(vocab, truth_x):
    """With the "rate" order. (Greedy argmax-VOI is not monotone here: at x=25.4 its paths over this lambda
    grid are 25, 31, 31, 31, 6, 0, 0 m, because a mid lambda prefers short hops that end in the long trip.)"""
    paths = []
    for lam in (0.0, 0.002, 0.005, 0.01, 0.03, 0.1, 0.5):
        cfg = PlannerConfig()
        cfg.utility.lambda_per_m = lam
        cfg.explore.selection = "rate"
        planner, _, nav = make(vocab, p_still=0.3, truth=(truth_x, 0.5, 0.8), cfg=cfg)
        paths.append(planner.answer("where is my mug?", NOW, budget_m=80.0).path_m)
    assert all(b <= a + 1e-9 for a, b in zip(paths, paths[1:])), paths
    assert paths[0] > 0.0 and paths[-1] == 0.0



def _moved_mug_memory(other_mug_places):
    """mug_1 was seen once in the living room (place 2) and has likely left its spot since; mug_2 stood at
    ``other_mug_places`` (oldest first, none of them in the living room): the moves memory saw of the class."""
    places, room_of = line_world()
    mem = FakeMemory(places, ROOMS, NOW)
    t = NOW - 40 * H
    for pid in other_mug_places[:-1]:
        x, y, _room = places[pid]
        mem.add_span("mug_2", "mug", (x + 0.3, y + 0.5, 0.8), pid, t, t + H)
        t += 4 * H
    x, y, _room = places[other_mug_places[-1]]
    mem.add_object("mug_2", "mug", (x + 0.3, y + 0.5, 0.8), other_mug_places[-1], t, t + H, p_still=0.9)
    mem.add_object("mug_1", "mug", (8.5, 0.5, 0.8), 2, NOW - 30 * H, NOW - 29 * H, p_still=0.1)
    return mem


def test_a_moved_thing_stays_in_its_room_as_often_as_its_class_did(vocab):
    """Where a thing that left its spot went is learned from its class's moves in memory: mugs that moved
    within their room make the living room's missing mug most likely still in it; mugs that went from room
    to room do not. The habits (where mugs stood) give the living room nothing in either case."""
    q = "is there a mug in the living room?"

    def p_yes(cfg, places):
        a = Planner(cfg, _moved_mug_memory(places), None, vocab).answer(q, NOW, budget_m=0.0)
        return a.probability if a.yes_no else 1.0 - a.probability
    within, across = p_yes(PlannerConfig(), [0, 1, 0, 1]), p_yes(PlannerConfig(), [0, 4, 6, 1])
    assert within > 0.5 > across
    off = PlannerConfig()
    off.belief.same_room_prior_same = off.belief.same_room_prior_other = 0.0
    assert abs(p_yes(off, [0, 1, 0, 1]) - p_yes(off, [0, 4, 6, 1])) < 0.05 < within - across
