"""Platt calibration: recovers calibration of synthetically over-confident probabilities, shrinks per-kind
offsets for kinds with few answers, and survives to_dict / from_dict (version 1 files still load)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from memory_nodes.planner.calibration import Calibrator


def _overconfident(n: int, seed: int = 0, shift: float = 0.0):
    """True P(correct) t; the reported probability is sigmoid(2 * logit(t) + 1) (over-confident)."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.2, 0.95, n)
    z = np.log(t / (1 - t))
    truth = 1 / (1 + np.exp(-(z + shift)))
    reported = 1 / (1 + np.exp(-(2 * z + 1)))
    return reported, rng.random(n) < truth, truth


def _binned_gap(p, c, bins=10):
    p, c = np.asarray(p), np.asarray(c, dtype=float)
    idx = np.clip(np.ceil(p * bins).astype(int) - 1, 0, bins - 1)
    return sum((idx == b).mean() * abs(c[idx == b].mean() - p[idx == b].mean())
               for b in range(bins) if (idx == b).any())


def test_platt_recovers_calibration_on_overconfident_data():
    p, c, _ = _overconfident(4000)
    cal = Calibrator(method="platt").fit(p, c)
    a, b = cal._platt
    assert a == pytest.approx(0.5, abs=0.08) and b == pytest.approx(-0.5, abs=0.15)
    p2, c2, truth2 = _overconfident(4000, seed=1)
    q = [cal.apply(x) for x in p2]
    assert _binned_gap(q, c2) < 0.03 < _binned_gap(p2, c2)
    assert np.max(np.abs(np.asarray(q) - truth2)) < 0.06
    assert q[int(np.argmin(p2))] <= q[int(np.argmax(p2))]
    assert 0.0 < cal.apply(0.0) < cal.apply(1.0) < 1.0          # finite at the ends


def test_platt_kind_offsets_are_learned_and_shrunk():
    p1, c1, _ = _overconfident(3000, seed=2)
    p2, c2, _ = _overconfident(3000, seed=3, shift=-1.0)        # this kind is right less often
    p3, c3, _ = _overconfident(5, seed=4, shift=3.0)            # too few answers to move far
    kinds = ["a"] * 3000 + ["b"] * 3000 + ["c"] * 5
    cal = Calibrator(method="platt", kind_offset_strength=20.0).fit(
        np.concatenate([p1, p2, p3]), np.concatenate([c1, c2, c3]), kinds)
    assert cal.apply(0.8, "b") < cal.apply(0.8, "a") - 0.1
    assert abs(cal._offsets["c"]) < 0.5
    assert cal.apply(0.8, "unknown kind") == pytest.approx(Calibrator(method="platt").fit(
        np.concatenate([p1, p2, p3]), np.concatenate([c1, c2, c3])).apply(0.8), abs=0.1)


def test_round_trip_and_old_files():
    p, c, _ = _overconfident(500)
    kinds = ["x", "y"] * 250
    for cal in (Calibrator(method="platt", kind_offset_strength=50.0).fit(p, c, kinds),
                Calibrator(min_samples_per_kind=10, prior_strength=2.0).fit(p, c, kinds)):
        back = Calibrator.from_dict(json.loads(json.dumps(cal.to_dict())))
        for x in (0.0, 0.3, 0.77, 1.0):
            for k in ("x", "y", "z"):
                assert back.apply(x, k) == pytest.approx(cal.apply(x, k))
    old = {"version": 1, "global": [[0.0, 1.0], [0.1, 0.7]], "per_kind": {}}      # an isotonic version 1 file
    assert Calibrator.from_dict(old).apply(0.5) == pytest.approx(0.4)
    with pytest.raises(ValueError):
        Calibrator(method="beta")
