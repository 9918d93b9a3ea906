"""LA-EQA metric and scoring functions on hand-computed examples."""
from __future__ import annotations

import math

import numpy as np
import pytest

from bench.laeqa.metrics import brier, ece, path_efficiency, set_f1, summarize
from bench.laeqa.questions import Question, Truth
from bench.laeqa.score import ANSWERED, CANNOT_PARSE, NOT_SURE, Reply, parse_matches, score


def test_brier_is_mean_squared_error():
    assert brier([1.0, 0.0, 0.5, 0.8], [True, True, False, True]) == pytest.approx((0 + 1 + 0.25 + 0.04) / 4)
    assert math.isnan(brier([], []))
    with pytest.raises(ValueError):
        brier([0.5], [True, False])


def test_ece_weights_bin_gaps_by_bin_share():
    # bin (0.8, 0.9]: two at 0.9, one right -> |0.5 - 0.9| * 2/4; bin (0.1, 0.2]: one at 0.2 wrong -> 0.2 * 1/4;
    # bin (0.9, 1.0]: one at 1.0 right -> 0
    assert ece([0.9, 0.9, 0.2, 1.0], [True, False, False, True], n_bins=10) == pytest.approx(0.2 + 0.05)
    # perfectly calibrated within a bin
    assert ece([0.75] * 4, [True, True, True, False], n_bins=10) == pytest.approx(0.0)
    # 0 lands in the first bin, 1 in the last
    assert ece([0.0, 1.0], [False, True], n_bins=5) == pytest.approx(0.0)
    assert ece([0.0], [True], n_bins=5) == pytest.approx(1.0)


def test_path_efficiency_is_capped_ratio():
    assert path_efficiency(4.0, 8.0) == pytest.approx(0.5)
    assert path_efficiency(8.0, 4.0) == 1.0          # shorter than the oracle (a lucky guess): capped
    assert path_efficiency(5.0, 0.0) == 1.0          # nothing spent
    assert path_efficiency(0.0, 3.0) == 0.0          # the oracle needed no walk


def test_set_f1():
    assert set_f1(["mug", "book"], ["mug", "book"]) == 1.0
    assert set_f1([], []) == 1.0
    assert set_f1(["mug"], []) == 0.0
    assert set_f1(["mug", "book"], ["mug"]) == pytest.approx(2 * 0.5 * 1.0 / 1.5)


def test_summary_counts_not_sure_as_wrong_but_scores_its_guess_for_calibration():
    s = summarize(correct=[True, False, False], guess_correct=[True, True, False], probs=[0.9, 0.4, None],
                  not_sure=[False, True, False], path_m=[0.0, 2.0, 4.0], efficiency=[1.0, 0.5, 0.0], n_bins=10)
    assert s["accuracy"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["selective_accuracy"] == pytest.approx(0.5)
    assert s["not_sure_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["path_m"] == pytest.approx(2.0)
    assert s["brier"] == pytest.approx(((0.9 - 1) ** 2 + (0.4 - 1) ** 2) / 2)


class _Room:
    def __init__(self, rid, t):
        self.room_id, self.room_type = rid, t


class _World:
    """room 0 = x < 5 (kitchen), room 1 = x >= 5 (bedroom), room 2 also a bedroom."""
    rooms = [_Room(0, "kitchen"), _Room(1, "bedroom"), _Room(2, "bedroom")]

    def room_at(self, x, y):
        return 0 if x < 5 else (1 if y < 5 else 2)


def _q(answer_type, value, room_type="", rng=None) -> Question:
    return Question("q", 1, 0, 0, "present", "k", "text", "dev", "t", Truth(answer_type, value, room_type, rng),
                    {"kinds": ["where_now"], "target": "mug", "room": "", "receptacle": ""})


def canon(x):
    return {"cup": "mug"}.get(x, x)


@pytest.mark.parametrize("reply,q,expected", [
    (Reply(ANSWERED, position_m=np.array([1.0, 1.0, 0.0])), _q("room", 0, "kitchen"), (True, True)),
    (Reply(ANSWERED, position_m=np.array([7.0, 1.0, 0.0])), _q("room", 0, "kitchen"), (False, False)),
    (Reply(ANSWERED, room_label="kitchen"), _q("room", 0, "kitchen"), (True, True)),
    (Reply(ANSWERED, room_label="bedroom"), _q("room", 1, "bedroom"), (False, False)),   # two bedrooms: ambiguous
    (Reply(NOT_SURE, position_m=np.array([1.0, 1.0, 0.0])), _q("room", 0, "kitchen"), (False, True)),
    (Reply(ANSWERED, yes_no=False), _q("yes_no", False), (True, True)),
    (Reply(ANSWERED, yes_no=None), _q("yes_no", False), (False, False)),
    (Reply(ANSWERED, count=2), _q("count", 2), (True, True)),
    (Reply(ANSWERED, count=3), _q("count", 2), (False, False)),
    (Reply(ANSWERED, time_ns=150), _q("time", 100, rng=(90, 160)), (True, True)),
    (Reply(ANSWERED, time_ns=170), _q("time", 100, rng=(90, 160)), (False, False)),
    (Reply(ANSWERED, text="The mug is gray."), _q("color", "grey"), (True, True)),
    (Reply(ANSWERED, items=["cup", "book"]), _q("set", ["mug"]), (True, True)),        # F1 2/3 >= 0.5
    (Reply(ANSWERED, items=["book", "plate"]), _q("set", ["mug"]), (False, False)),
    (Reply(ANSWERED, items=["cup"]), _q("class", "mug"), (True, True)),
    (Reply(CANNOT_PARSE), _q("cannot_parse", True), (True, True)),
    (Reply(ANSWERED, yes_no=True), _q("cannot_parse", True), (False, False)),
    (Reply(CANNOT_PARSE), _q("count", 2), (False, False)),
])
def test_scoring_rules(reply, q, expected):
    assert score(reply, q, _World(), canon, set_min_f1=0.5) == expected


class _Query:
    def __init__(self, kind, target="", room="", receptacle="", targets=()):
        self.kind, self.target, self.room, self.receptacle, self.targets = kind, target, room, receptacle, list(targets)


def test_parse_matches_reference():
    exp = {"kinds": ["exists"], "target": "mug", "room": "kids room", "receptacle": ""}
    assert parse_matches(_Query("exists", "cup", "kids room"), exp, canon) is True
    assert parse_matches(_Query("count", "mug", "kids room"), exp, canon) is False
    assert parse_matches(_Query("exists", "mug", "kitchen"), exp, canon) is False
    assert parse_matches(None, exp, canon) is False
    assert parse_matches(_Query("count"), {"kinds": None}, canon) is None


def test_ece_noise_floor_shrinks_with_more_answers():
    from bench.laeqa.metrics import ece_noise_floor
    few = ece_noise_floor([0.8] * 20)
    many = ece_noise_floor([0.8] * 500)
    assert few == ece_noise_floor([0.8] * 20)            # seeded: deterministic
    assert 0.0 < many < few
    assert ece_noise_floor([1.0] * 10) == 0.0             # certain and always right: no noise
