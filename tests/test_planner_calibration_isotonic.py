"""The isotonic calibrator shrinks each step towards the raw probability by its own block's count."""
import numpy as np

from memory_nodes.planner.calibration import Calibrator


def test_small_block_stays_near_raw_large_block_follows_data():
    # 3 answers at raw 0.1, all wrong; 300 answers at raw 0.9, 60 % right
    p = [0.1] * 3 + [0.9] * 300
    c = [False] * 3 + [True] * 180 + [False] * 120
    cal = Calibrator(min_samples_per_kind=10 ** 9, prior_strength=2.0).fit(p, c)
    # 3 samples against 2 pseudo-samples at the raw 0.1: 3/5 * 0 + 2/5 * 0.1
    assert abs(cal.apply(0.1) - 0.04) < 1e-9
    # 300 samples: nearly the observed 0.6 (300/302 * 0.6 + 2/302 * 0.9)
    assert abs(cal.apply(0.9) - (300 * 0.6 + 2 * 0.9) / 302) < 1e-9


def test_shrinkage_does_not_depend_on_the_other_blocks():
    few = Calibrator(min_samples_per_kind=10 ** 9, prior_strength=2.0).fit([0.2, 0.2], [False, False])
    many = Calibrator(min_samples_per_kind=10 ** 9, prior_strength=2.0).fit(
        [0.2, 0.2] + [0.95] * 1000, [False, False] + [True] * 1000)
    assert abs(few.apply(0.2) - many.apply(0.2)) < 1e-9
    assert abs(few.apply(0.2) - 0.1) < 1e-9          # 2/4 * 0 + 2/4 * 0.2


def test_shrunk_map_stays_monotone():
    rng = np.random.default_rng(3)
    p = rng.uniform(0, 1, 200)
    c = rng.uniform(0, 1, 200) < p ** 2
    cal = Calibrator(min_samples_per_kind=10 ** 9, prior_strength=5.0).fit(p, c)
    xs = np.linspace(0, 1, 101)
    ys = [cal.apply(float(x)) for x in xs]
    assert all(b >= a - 1e-12 for a, b in zip(ys, ys[1:]))
    assert cal.to_dict()["method"] == "isotonic"
