"""Where the VOI planner drives: a free look from where it stands before any drive, and a search tour when
a single look can only confirm the best answer (issue 19: path efficiency where it drives)."""
from __future__ import annotations

import pytest

from memory_nodes.planner.answer import ANSWERED
from memory_nodes.planner.config import PlannerConfig
from memory_nodes.planner.fakes import FakeMemory, FakeNavigator, TrueObject
from memory_nodes.planner.planner import Planner
from memory_nodes.vocab.vocabulary import VocabConfig, Vocabulary

H = 3600 * 10**9
NOW = 1715871600 * 10**9
ROOMS = {0: "kitchen", 1: "living room", 2: "bedroom"}
PLACES = {0: (0.0, 0.0, 0), 1: (3.0, 0.0, 0), 2: (7.0, 0.0, 1), 3: (10.0, 0.0, 1), 4: (16.0, 0.0, 2),
          5: (19.0, 0.0, 2)}


def room_of(x, y):
    return 0 if x < 5 else 1 if x < 13.5 else 2


def camera_room_of(x, y):
    """The camera's rooms: from the kitchen's open end (2.5 <= x <= 3.5) it sees into the living room."""
    return -1 if 2.5 <= x <= 3.5 else room_of(x, y)


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary(VocabConfig(allow_model=False))


def _planner(vocab, cfg, start, seen_at, seen_place, truth, p_still=0.55, see_radius_m=3.5):
    mem = FakeMemory(PLACES, ROOMS, NOW)
    mem.add_object("mug_1", "mug", seen_at, seen_place, NOW - 5 * H, NOW - 2 * H, p_still=p_still)
    nav = FakeNavigator(start, [TrueObject("mug", truth, room_of(truth[0], truth[1]))], room_of_xy=camera_room_of,
                        see_radius_m=see_radius_m)
    return Planner(cfg, mem, nav, vocab), nav


def test_it_looks_from_where_it_stands_before_driving(vocab):
    # the mug was seen across the kitchen / living-room boundary, 3 m away: the model says a look from here
    # sees it barely (another room), yet the camera does
    cfg = PlannerConfig()
    cfg.belief.use_habits = False
    planner, nav = _planner(vocab, cfg, (3.0, 0.0, 0.0), (6.0, 0.4, 0.8), 2, (6.0, 0.4, 0.8))
    a = planner.answer("where is my mug?", NOW, budget_m=40.0)
    assert nav.looks >= 1 and nav.goals == [] and a.path_m == 0.0
    assert a.status == ANSWERED and a.room_id == 1 and a.probability > 0.9
    # without the free look first it drives for the same answer (and without a stop on the way: the place
    # it stands on is on the way to any other, 0 m off, so that look would be the free look again)
    cfg.explore.look_here_first = False
    cfg.explore.stop_on_the_way = False
    planner, nav = _planner(vocab, cfg, (3.0, 0.0, 0.0), (6.0, 0.4, 0.8), 2, (6.0, 0.4, 0.8))
    b = planner.answer("where is my mug?", NOW, budget_m=40.0)
    assert b.room_id == 1 and b.path_m > 0.0


def test_a_near_confirming_look_comes_before_a_far_check_of_an_unlikely_room(vocab):
    # likely still where it was seen (living room, near); the rest of its mass spread over the home: one
    # look can only confirm the living room (no decision changes: myopic VOI 0), so a myopic planner drives
    # to the far bedroom first; the tour looks near first and, finding it, stops
    cfg = PlannerConfig()
    cfg.belief.use_habits = False
    cfg.explore.look_here_first = False
    planner, nav = _planner(vocab, cfg, (3.0, 0.0, 0.0), (8.0, 0.4, 0.8), 2, (8.0, 0.4, 0.8), p_still=0.7,
                            see_radius_m=2.0)
    a = planner.answer("where is my mug?", NOW, budget_m=40.0)
    assert a.status == ANSWERED and a.room_id == 1
    assert nav.goals and nav.goals[0][0] < 13.5, f"first drive to {nav.goals}"
    assert a.path_m <= 8.0


def test_it_looks_from_a_place_on_the_way_before_driving_on(vocab):
    # the mug was last seen in the far bedroom (x = 19) but is likely to have moved; it is in the living room
    # (x = 7), on the way there from the kitchen's open end (x = 3). The chosen viewpoint is the bedroom;
    # the living room's place lies on that path (no detour) and a look from it may settle the question:
    # with explore.stop_on_the_way it looks there first, finds it and does not drive on to the bedroom
    cfg = PlannerConfig()
    cfg.belief.use_habits = False
    assert cfg.explore.stop_on_the_way
    planner, nav = _planner(vocab, cfg, (3.0, 0.0, 0.0), (19.0, 0.4, 0.8), 5, (7.0, 0.4, 0.8))
    a = planner.answer("where is my mug?", NOW, budget_m=40.0)
    assert a.status == ANSWERED and a.room_id == 1
    assert nav.goals and nav.goals[0][:2] == (7.0, 0.0), f"first drive to {nav.goals}"
    assert all(g[0] < 13.5 for g in nav.goals), f"drove on into the bedroom: {nav.goals}"
    # without it, the planner drives to the bedroom first and finds the mug only on the way back
    cfg.explore.stop_on_the_way = False
    planner, nav = _planner(vocab, cfg, (3.0, 0.0, 0.0), (19.0, 0.4, 0.8), 5, (7.0, 0.4, 0.8))
    b = planner.answer("where is my mug?", NOW, budget_m=40.0)
    assert b.room_id == 1 and nav.goals[0][0] > 13.5
    assert a.path_m < b.path_m / 2


def test_a_stop_that_adds_a_detour_beyond_the_slack_is_not_taken_on_the_way(vocab):
    # the same home; the kitchen's far place (x = 0) lies behind the robot: 6 m off the way to the bedroom.
    # Within the default slack (1 m) the first stop is the living room on the way; a slack that admits any
    # detour turns back to the kitchen first and drives further for the same answer
    paths = {}
    for slack in (1.0, 100.0):
        cfg = PlannerConfig()
        cfg.belief.use_habits = False
        cfg.explore.look_here_first = False
        cfg.explore.on_the_way_slack_m = slack
        planner, nav = _planner(vocab, cfg, (3.0, 0.0, 0.0), (19.0, 0.4, 0.8), 5, (7.0, 0.4, 0.8))
        a = planner.answer("where is my mug?", NOW, budget_m=60.0)
        assert a.status == ANSWERED and a.room_id == 1
        paths[slack] = (nav.goals[0][0], a.path_m)
    assert paths[1.0][0] == 7.0, paths
    assert paths[100.0][0] == 0.0 and paths[100.0][1] > paths[1.0][1], paths
