"""A spot new to an object holds it less surely: the share of such spots memory found it at again
(memory/staleness.py new_spot_outcomes / new_spot_share), learned from the robot's own record."""
from dataclasses import dataclass
from typing import List, Tuple

import pytest

from memory_nodes.memory.config import NS_PER_DAY
from memory_nodes.memory.staleness import new_spot_outcomes, new_spot_share

H = NS_PER_DAY // 24


@dataclass
class _Stay:
    pos: Tuple[float, float, float]
    start_ns: int
    end_ns: int


@dataclass
class _Track:
    stays: List[_Stay]
    first_seen_ns: int
    status: str = "present"


def _at(x, day, end_day=None):
    return _Stay((x, 0.0, 0.8), day * NS_PER_DAY + 10 * H, (day if end_day is None else end_day) * NS_PER_DAY + 11 * H)


def test_spots_of_memorys_first_day_are_not_counted():
    # seen at its home spot on days 0..3: where it lives, not where it was put
    assert new_spot_outcomes([_at(0.0, 0, 3)], 0, False, 0.5) == (0, 0)


def test_a_new_spot_seen_again_on_a_later_day_is_kept_one_left_for_elsewhere_is_left():
    stays = [_at(0.0, 0, 1), _at(3.0, 2), _at(0.0, 3), _at(6.0, 4, 5)]
    # 3.0 (day 2): next seen back at 0.0 -> left; 6.0 (day 4): seen there again on day 5 -> kept
    assert new_spot_outcomes(stays, 0, False, 0.5) == (1, 1)


def test_a_new_spot_not_seen_since_is_open_unless_the_object_went_missing():
    stays = [_at(0.0, 0), _at(3.0, 2)]
    assert new_spot_outcomes(stays, 0, False, 0.5) == (0, 0)
    assert new_spot_outcomes(stays, 0, True, 0.5) == (0, 1)


def test_the_share_over_every_track_is_smoothed_and_cached_per_track():
    tracks = {1: _Track([_at(0.0, 0), _at(3.0, 2), _at(0.0, 3)], 0),       # left
              2: _Track([_at(5.0, 0), _at(8.0, 1, 2)], 0),                  # kept
              3: _Track([_at(9.0, 0), _at(2.0, 3), _at(9.0, 4)], 0)}        # left
    cache: dict = {}
    share, first = new_spot_share(tracks, cache, 0.5, "missing")
    assert first == 0 and share == pytest.approx((1 + 1) / (1 + 2 + 2))
    assert set(cache) == {1, 2, 3}
    # a track whose record did not change is read from the cache; one that changed is recounted
    tracks[2].stays.append(_at(1.0, 5))
    tracks[2].stays.append(_at(4.0, 6))
    share2, _ = new_spot_share(tracks, cache, 0.5, "missing")
    assert share2 == pytest.approx((1 + 1) / (1 + 3 + 2))                   # 1.0 (day 5) left, 4.0 still open
    assert cache[1][0] == (3, tracks[1].stays[-1].end_ns, "present", 0)
    assert new_spot_share({}, {}, 0.5, "missing") == (0.5, 0)
