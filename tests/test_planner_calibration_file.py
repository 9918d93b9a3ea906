"""The planner node's calibration file: the benchmark's fit loads and changes probabilities; a bad file is a
clear error (the node then logs it and answers uncalibrated)."""
from __future__ import annotations

import json

import pytest
from conftest import REPO_ROOT

from memory_nodes.planner.calibration import Calibrator, load_calibrator


def test_benchmark_fit_loads_and_maps_probabilities():
    cal = load_calibrator(str(REPO_ROOT / "config" / "planner_calibration.json"))
    raw = [0.05, 0.3, 0.6, 0.95]
    out = [cal.apply(p, "where_now") for p in raw]
    assert all(0.0 <= q <= 1.0 for q in out)
    assert out != raw                               # a fitted map, not the identity
    assert out == sorted(out)                       # monotone in the raw probability


def test_bare_calibrator_dict_and_bad_files(tmp_path):
    f = tmp_path / "c.json"
    f.write_text(json.dumps(Calibrator().to_dict()))
    assert load_calibrator(str(f)).apply(0.42, "count") == pytest.approx(0.42)
    f.write_text(json.dumps({"version": 999}))
    with pytest.raises(ValueError):
        load_calibrator(str(f))
    f.write_text("[1, 2]")
    with pytest.raises(ValueError):
        load_calibrator(str(f))
    with pytest.raises(OSError):
        load_calibrator(str(tmp_path / "missing.json"))
