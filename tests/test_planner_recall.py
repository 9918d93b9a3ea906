"""Answers from stored observations alone: habits, forecasts, changes, attributes, past presence; the
calibration hook; the typed config; latency of memory-only answers is printed by the benchmark."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO_ROOT

from memory_nodes.common.errors import ConfigError
from memory_nodes.common.protocols import ChangeEvent, Evidence
from memory_nodes.planner.answer import ANSWERED
from memory_nodes.planner.calibration import Calibrator
from memory_nodes.planner.config import PlannerConfig, load_planner_config
from memory_nodes.planner.fakes import FakeMemory
from memory_nodes.planner.planner import Planner
from memory_nodes.planner.timephrase import NS_PER_DAY, NS_PER_H, CalendarConfig, day_start_ns
from memory_nodes.vocab.vocabulary import VocabConfig, Vocabulary

H = NS_PER_H
NOW = 1715871600 * 10**9                 # Thursday 2024-05-16 15:00
TODAY = day_start_ns(NOW, CalendarConfig())
ROOMS = {0: "kitchen", 1: "living room", 2: "bedroom", 3: "office"}
PLACES = {0: (0, 0, 0), 1: (3, 0, 0), 2: (8, 0, 1), 3: (11, 0, 1), 4: (16, 0, 2), 5: (19, 0, 2), 6: (25, 0, 3)}
POS = {p: (x + 0.3, y + 0.4, 0.8) for p, (x, y, _) in PLACES.items()}


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary(VocabConfig(allow_model=False))


def planner(vocab, mem, cfg=None):
    return Planner(cfg or PlannerConfig(), mem, None, vocab)


def habit_memory():
    """A mug: every day 08:00-12:00 in the kitchen, 13:00-20:00 in the living room; one day in the office."""
    mem = FakeMemory(PLACES, ROOMS, NOW)
    for d in range(6, 0, -1):
        day = TODAY - d * NS_PER_DAY
        if d == 3:
            mem.add_span("mug_1", "mug", POS[6], 6, day + 8 * H, day + 20 * H)
            continue
        mem.add_span("mug_1", "mug", POS[1], 1, day + 8 * H, day + 12 * H)
        mem.add_span("mug_1", "mug", POS[2], 2, day + 13 * H, day + 20 * H)
    mem.add_object("mug_1", "mug", POS[2], 2, TODAY + 13 * H, TODAY + 14 * H, p_still=0.9, color=(0.85, 0.1, 0.1))
    mem.add_span("mug_1", "mug", POS[1], 1, TODAY + 8 * H, TODAY + 12 * H)
    return mem


def test_where_usually_from_history(vocab):
    a = planner(vocab, habit_memory()).answer("where is the mug usually?", NOW)
    assert a.query_kind == "where_usually" and a.room_id == 1 and a.status == ANSWERED   # 7 h/day living room
    assert a.evidence.object_ids == ["mug_1"] and a.path_m == 0.0
    assert a.top_answers[1].room_id == 0                                                   # then the kitchen


def test_when_next_from_daily_arrivals(vocab):
    a = planner(vocab, habit_memory()).answer("when will the mug be in the kitchen next?", NOW)
    assert a.query_kind == "when_next" and a.time_ns > NOW
    assert abs(a.time_ns - (TODAY + NS_PER_DAY + 8 * H)) <= H // 2, a.answer      # tomorrow about 08:00


def test_when_next_is_the_next_arrival_even_when_it_is_there(vocab):
    a = planner(vocab, habit_memory()).answer("when will the mug be in the living room again?", NOW)
    assert abs(a.time_ns - (TODAY + NS_PER_DAY + 13 * H)) <= H // 2, a.answer     # tomorrow about 13:00


def test_which_runs_out_first(vocab):
    mem = FakeMemory(PLACES, ROOMS, NOW)
    for k in range(3):                                   # finished cartons of milk lasted 2 days, bread 5 days
        mem.add_span(f"milk_{k}", "milk carton", POS[1], 1, NOW - (20 - 3 * k) * NS_PER_DAY,
                     NOW - (18 - 3 * k) * NS_PER_DAY)
        mem.add_span(f"bread_{k}", "bread", POS[1], 1, NOW - (30 - 6 * k) * NS_PER_DAY, NOW - (25 - 6 * k) * NS_PER_DAY)
    mem.add_object("milk_9", "milk carton", POS[1], 1, NOW - 1 * NS_PER_DAY, NOW - H, p_still=0.95)
    mem.add_object("bread_9", "bread", POS[1], 1, NOW - 1 * NS_PER_DAY, NOW - H, p_still=0.95)
    a = planner(vocab, mem).answer("which runs out first, the milk or the bread?", NOW)
    assert a.query_kind == "which_first" and a.items == [vocab.canonical("milk")] and a.status == ANSWERED


def changed_memory():
    """A mug in the kitchen since 01:00, moved to the living room at 13:00 (memory's event says so)."""
    mem = FakeMemory(PLACES, ROOMS, NOW)
    mem.add_span("mug_1", "mug", POS[1], 1, TODAY + 1 * H, TODAY + 12 * H)
    mem.add_object("mug_1", "mug", POS[2], 2, TODAY + 13 * H, TODAY + 14 * H, p_still=0.9)
    mem.change_events.append(ChangeEvent("moved", "mug_1", "mug", TODAY + 13 * H, np.array(POS[1]), np.array(POS[2]),
                                         0, 1, Evidence(object_ids=["mug_1"], observation_ids=[99])))
    mem.change_events.append(ChangeEvent("appeared", "box_1", "box", NOW - 30 * NS_PER_DAY, None, np.array(POS[1]),
                                         -1, 0, Evidence(object_ids=["box_1"])))
    return mem


def test_what_changed_lists_the_changes(vocab):
    a = planner(vocab, changed_memory()).answer("what changed in the kitchen since this morning?", NOW)
    assert a.query_kind == "what_changed" and a.items == ["mug"] and a.count == 1
    assert 99 in a.evidence.observation_ids and "moved" in a.answer


def test_what_changed_leaves_out_a_thing_that_moved_and_came_back(vocab):
    """The question asks what differs from then: a mug that left the kitchen and is back at its spot is no
    difference, though memory stored its moves."""
    mem = changed_memory()
    mem.add_object("mug_1", "mug", POS[1], 1, TODAY + 14 * H, TODAY + 14 * H + 600 * 10**9, p_still=0.9)
    mem.change_events.append(ChangeEvent("moved", "mug_1", "mug", TODAY + 14 * H, np.array(POS[2]), np.array(POS[1]),
                                         1, 0, Evidence(object_ids=["mug_1"])))
    a = planner(vocab, mem).answer("what changed in the kitchen since this morning?", NOW)
    assert a.query_kind == "what_changed" and a.items == [] and "nothing changed" in a.best_guess.lower()


def test_colour_last_seen_and_since_when(vocab):
    p = planner(vocab, habit_memory())
    a = p.answer("what colour is the mug?", NOW)
    assert a.items == ["red"] and "red" in a.answer
    a = p.answer("when did you last see the mug?", NOW)
    assert a.time_ns == TODAY + 14 * H and a.room_id == 1
    a = p.answer("since when has the mug been there?", NOW)
    assert a.time_ns == TODAY + 13 * H


def test_past_presence_and_where_at(vocab):
    p = planner(vocab, habit_memory())
    a = p.answer("was there a mug in the office 3 days ago?", NOW)
    assert a.query_kind == "exists" and a.yes_no is True and a.path_m == 0.0
    a = p.answer("was there a mug in the office yesterday?", NOW)
    assert a.yes_no is False
    a = p.answer("where was the mug yesterday morning?", NOW)
    assert a.query_kind == "where_at" and a.room_id == 0 and a.status == ANSWERED


def test_did_move_uses_memorys_change_events(vocab):
    mem = habit_memory()
    mem.change_events.append(ChangeEvent("moved", "mug_1", "mug", TODAY + 13 * H, np.array(POS[1]), np.array(POS[2]),
                                         0, 1, Evidence(object_ids=["mug_1"])))
    a = planner(vocab, mem).answer("did the mug move since this morning?", NOW)
    assert a.query_kind == "did_move" and a.yes_no is True and a.status == ANSWERED


def test_calibrator_identity_fit_and_round_trip():
    c = Calibrator()
    assert c.apply(0.73) == pytest.approx(0.73)
    rng = np.random.default_rng(0)
    raw = rng.uniform(0.5, 1.0, 4000)
    correct = rng.uniform(size=raw.size) < (raw - 0.3)           # over-confident by 0.3
    c.fit(raw, correct, kinds=["where_now"] * raw.size)
    assert c.apply(0.9, "where_now") == pytest.approx(0.6, abs=0.06)
    assert c.apply(0.6, "count") == pytest.approx(0.3, abs=0.08)  # unfitted kind: the global map
    c2 = Calibrator.from_dict(c.to_dict())
    assert c2.apply(0.8, "where_now") == pytest.approx(c.apply(0.8, "where_now"))


def test_config_file_and_validation():
    cfg = load_planner_config(REPO_ROOT / "config" / "planner.yaml")
    assert cfg.utility.c_wrong == 1.0 and cfg.node.look_yaws == 4 and not cfg.chat.enabled
    bad = PlannerConfig()
    bad.detector.miss_rate = 1.5
    with pytest.raises(ConfigError):
        Planner(bad, FakeMemory(PLACES, ROOMS, NOW), None, None)
    bad = PlannerConfig()
    bad.chat.enabled = True
    with pytest.raises(ConfigError):
        bad.validate()


def test_importing_the_core_never_loads_rclpy():
    code = ("import sys; import memory_nodes.planner.planner, memory_nodes.planner.chat, memory_nodes.planner.fakes; "
            "assert 'rclpy' not in sys.modules, 'rclpy loaded'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(REPO_ROOT))


def test_will_it_be_there_from_daily_habits(vocab):
    p = planner(vocab, habit_memory())
    a = p.answer("will the mug be in the kitchen tomorrow morning?", NOW)
    assert a.query_kind == "will_be" and a.yes_no is True and a.status == ANSWERED and a.path_m == 0.0
    a = p.answer("will the mug be in the office tomorrow morning?", NOW)
    assert a.query_kind == "will_be" and a.yes_no is False


def test_days_seen_counts_days_with_sightings_there(vocab):
    p = planner(vocab, habit_memory())
    a = p.answer("on how many of the last 4 days was the mug in the office?", NOW)
    assert a.query_kind == "days_seen" and a.count == 1            # 3 days ago only
    a = p.answer("on how many of the last 4 days was the mug in the kitchen?", NOW)
    assert a.count == 3                                            # not 3 days ago (it was in the office)


def test_days_seen_counts_the_days_memory_saw_it_not_the_days_a_stay_bridges(vocab):
    """A book on the kitchen table from 5 days ago until today, sighted only 5 days ago and today: the days
    between count only where the robot's pose trail faced the table that day (it looked while the book
    stayed), not where it was in another room or in the kitchen looking away."""
    mem = FakeMemory(PLACES, ROOMS, NOW)
    mem.add_span("book_1", "book", POS[0], 0, TODAY - 5 * NS_PER_DAY + 10 * H, TODAY + 10 * H)
    here = PLACES[1][:2]                                                  # 3 m east of the book, kitchen
    mem.add_pose(TODAY - 4 * NS_PER_DAY + 10 * H, here, 1, yaw_rad=3.14159)   # faces the book: counts
    mem.add_pose(TODAY - 3 * NS_PER_DAY + 10 * H, here, 1, yaw_rad=0.0)       # kitchen, looking away: no
    mem.add_pose(TODAY - 2 * NS_PER_DAY + 10 * H, PLACES[4][:2], 4)           # the bedroom all day: no
    a = planner(vocab, mem).answer("on how many of the last 6 days did you see the book in the kitchen?", NOW)
    assert a.query_kind == "days_seen" and a.count == 3, a.answer          # 5 days ago, 4 days ago, today
    assert 0.5 < a.raw_probability < 1.0


def test_a_set_answer_is_as_sure_as_its_items_and_what_memory_did_not_see():
    from memory_nodes.planner.recall import p_set_right
    # five near-certain changes listed, little unseen: right almost surely; an empty list is right only when
    # nothing changed unseen; two doubtful items against much unseen change: a coin toss at best
    assert p_set_right([0.95] * 5, [0.05] * 4, 0.5) > 0.99
    assert p_set_right([], [0.1, 0.2], 0.5) == pytest.approx(0.9 * 0.8)
    assert p_set_right([0.3, 0.3], [0.3] * 5, 0.5) < 0.5
    assert p_set_right([0.9], [], 0.5) == pytest.approx(0.9)


def test_what_changed_doubts_a_change_of_a_class_that_hardly_ever_moves(vocab):
    """A stored "moved" event of a mug (a daily mover) is likely real; one of a sofa (furniture: a miss or a
    track split is the likelier story) is not listed as a change."""
    def answer(cls):
        mem = FakeMemory(PLACES, ROOMS, NOW)
        mem.move_rate = {cls: 1.0 if cls == "mug" else 0.02}
        mem.add_span(f"{cls}_1", cls, POS[0], 0, TODAY - 2 * NS_PER_DAY, TODAY - 2 * NS_PER_DAY + H)
        mem.add_object(f"{cls}_1", cls, POS[1], 1, TODAY + 13 * H, TODAY + 14 * H, p_still=0.9)
        mem.change_events.append(ChangeEvent("moved", f"{cls}_1", cls, TODAY + 13 * H, np.array(POS[0]),
                                             np.array(POS[1]), 0, 0, Evidence(object_ids=[f"{cls}_1"])))
        return planner(vocab, mem).answer("what changed in the kitchen since yesterday?", NOW)
    mug, sofa = answer("mug"), answer("sofa")
    assert mug.items == ["mug"] and mug.raw_probability > 0.8
    assert sofa.items == []


def test_what_changed_in_a_room_memory_does_not_know_is_a_guess(vocab):
    mem = habit_memory()
    a = planner(vocab, mem).answer("what changed in the garage since this morning?", NOW)
    assert a.query_kind == "what_changed" and a.raw_probability == pytest.approx(0.5)


def test_which_first_is_surer_when_past_lives_are_regular_than_when_they_scatter(vocab):
    """Milk cartons lasting 2 days and bread 5: the same typical lives, once like clockwork and once spread
    from a few hours to a week; the answer is the milk both times, stated surer when the lives agree."""
    def answer(milk_lives, bread_lives):
        mem = FakeMemory(PLACES, ROOMS, NOW)
        for k, (m, b) in enumerate(zip(milk_lives, bread_lives)):
            t0 = NOW - (40 - 8 * k) * NS_PER_DAY
            mem.add_span(f"milk_{k}", "milk carton", POS[1], 1, t0, t0 + int(m * NS_PER_DAY))
            mem.add_span(f"bread_{k}", "bread", POS[1], 1, t0, t0 + int(b * NS_PER_DAY))
        mem.add_object("milk_9", "milk carton", POS[1], 1, NOW - 1 * NS_PER_DAY, NOW - H, p_still=0.95)
        mem.add_object("bread_9", "bread", POS[1], 1, NOW - 1 * NS_PER_DAY, NOW - H, p_still=0.95)
        return planner(vocab, mem).answer("which runs out first, the milk or the bread?", NOW)
    regular = answer([2, 2, 2, 2], [5, 5, 5, 5])
    scattered = answer([0.2, 2, 2, 6], [1, 5, 5, 7])
    assert regular.items == scattered.items == [vocab.canonical("milk")]
    assert regular.raw_probability > scattered.raw_probability > 0.5
