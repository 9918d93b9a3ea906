"""The noisy oracle: measured miss / confusion / false-positive rates match the config, misses grow with
distance, occlusion and small size, masks are eroded, and detections carry no ground-truth identity."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from memory_nodes.common.types import Detection2D
from memory_nodes.perception.config import OracleConfig
from memory_nodes.perception.oracle import NoisyOracleDetector
from memory_nodes.perception.synthetic import SynthBox, demo_scene, intrinsics_for, look_at, render

TABLE_EXTRA = {99: "wall"}


@pytest.fixture(scope="module")
def frame_and_table():
    objects, walls = demo_scene()
    K = intrinsics_for(320, 240)
    frame = render(objects, K, look_at((0.0, 0.0, 1.15), (2.0, 0.0, 0.3)), walls=walls)
    table = {o.instance_id: o.class_name for o in objects}
    table.update(TABLE_EXTRA)
    return frame, table


def quiet(**kw) -> OracleConfig:
    base = dict(miss_prob_base=0.0, miss_prob_per_m=0.0, miss_prob_occlusion=0.0, miss_prob_small=0.0,
                confusion_prob=0.0, false_positive_rate=0.0, seed=3)
    base.update(kw)
    return OracleConfig(**base)


def run(det: NoisyOracleDetector, frame, n: int):
    """(detections as (true class, reported class) pairs, false positives)."""
    pairs, fps = [], 0
    for i in range(n):   # n frames of a stream (distinct stamps): the errors of one frame are fixed by its stamp
        dets = det.detect(dataclasses.replace(frame, stamp_ns=frame.stamp_ns + i))
        for d, iid in zip(dets, det.scorer_truth(dets)):
            if iid < 0:
                fps += 1
            else:
                pairs.append((det.true_class(iid), d.class_name))
    return pairs, fps


def test_detections_carry_no_identity(frame_and_table):
    frame, table = frame_and_table
    det = NoisyOracleDetector(quiet(), table)
    dets = det.detect(frame)
    names = {f.name for f in dataclasses.fields(Detection2D)}
    assert names == {"class_name", "score", "mask", "box_xyxy", "appearance"}
    assert sorted(d.class_name for d in dets) == sorted(v for k, v in table.items() if v != "wall")
    # scorers can still map them to the truth through the side table, for the last frame only
    truth = det.scorer_truth(dets)
    assert sorted(truth) == sorted(k for k, v in table.items() if v != "wall")
    det.detect(frame)
    with pytest.raises(KeyError):
        det.scorer_truth(dets)


def test_measured_miss_rate_matches_config(frame_and_table):
    frame, table = frame_and_table
    det = NoisyOracleDetector(quiet(miss_prob_base=0.2), table)
    n = 300
    pairs, _ = run(det, frame, n)
    trials = n * 6
    miss = 1.0 - len(pairs) / trials
    assert miss == pytest.approx(0.2, abs=0.04)


def test_measured_confusion_rate_matches_config(frame_and_table):
    frame, table = frame_and_table
    det = NoisyOracleDetector(quiet(confusion_prob=0.15), table)
    pairs, _ = run(det, frame, 400)
    alike = [(t, r) for t, r in pairs if t in ("mug", "book")]
    confused = [(t, r) for t, r in alike if t != r]
    assert len(confused) / len(alike) == pytest.approx(0.15, abs=0.04)
    assert set(confused) <= {("mug", "cup"), ("book", "notebook")}
    # classes without a look-alike are never confused
    assert all(t == r for t, r in pairs if t not in ("mug", "book"))


def test_false_positive_rate_matches_config(frame_and_table):
    frame, table = frame_and_table
    det = NoisyOracleDetector(quiet(false_positive_rate=0.5), table)
    n = 400
    _, fps = run(det, frame, n)
    assert fps / n == pytest.approx(0.5, abs=0.1)


def test_misses_grow_with_distance():
    K = intrinsics_for(320, 240)
    cfg = quiet(miss_prob_base=0.05, miss_prob_per_m=0.1, miss_free_distance_m=1.0)
    rates = []
    for dist in (1.0, 3.0, 5.0):
        box = SynthBox((dist, 0.0, 0.2), (0.4, 0.4, 0.4), 1, "ball")
        frame = render([box], K, look_at((0.0, 0.0, 1.0), (dist, 0.0, 0.2)))
        det = NoisyOracleDetector(cfg, {1: "ball"})
        pairs, _ = run(det, frame, 400)
        rates.append(1.0 - len(pairs) / 400)
    expected = [0.05 + 0.1 * max(0.0, d - 1.0) for d in (1.0, 3.0, 5.0)]
    # the distance is the median depth of the object's pixels: about its front face
    assert rates == pytest.approx(expected, abs=0.07)
    assert rates[0] < rates[1] < rates[2]


def test_misses_grow_with_occlusion_and_small_size():
    K = intrinsics_for(320, 240)
    T = look_at((0.0, 0.0, 1.0), (2.0, 0.0, 0.2))
    target = SynthBox((2.0, 0.0, 0.2), (0.4, 0.4, 0.4), 1, "ball")
    screen = SynthBox((1.2, 0.12, 0.3), (0.05, 0.3, 0.9), 2, "post")
    cfg = quiet(miss_prob_occlusion=0.8)
    free = run(NoisyOracleDetector(cfg, {1: "ball"}), render([target], K, T), 300)[0]
    hidden = run(NoisyOracleDetector(cfg, {1: "ball"}), render([target, screen], K, T), 300)[0]
    assert len(free) == 300 and len(hidden) < 0.85 * 300
    tiny = SynthBox((2.0, 0.0, 0.02), (0.04, 0.04, 0.04), 1, "ball")
    cfg = quiet(miss_prob_small=0.9, small_area_px=2000.0, min_area_px=1, erode_px=0)
    small = run(NoisyOracleDetector(cfg, {1: "ball"}), render([tiny], K, T), 300)[0]
    big = run(NoisyOracleDetector(cfg, {1: "ball"}), render([target], K, T), 300)[0]
    assert len(small) < 0.3 * 300 and len(big) > 0.9 * 300


def test_masks_are_eroded_and_out_of_range_is_never_seen(frame_and_table):
    frame, table = frame_and_table
    d0 = {d.class_name: d for d in NoisyOracleDetector(quiet(erode_px=0), table).detect(frame)}
    d2 = {d.class_name: d for d in NoisyOracleDetector(quiet(erode_px=4), table).detect(frame)}
    for name, d in d2.items():
        assert d.mask.sum() < d0[name].mask.sum()
        assert not np.any(d.mask & ~d0[name].mask)
        assert np.array_equal(d0[name].mask, frame.instance_mask == next(k for k, v in table.items() if v == name))
    assert NoisyOracleDetector(quiet(max_range_m=1.0), table).detect(frame) == []


def test_errors_are_a_function_of_the_frame_so_runs_reproduce(frame_and_table):
    frame, table = frame_and_table
    noisy = quiet(miss_prob_base=0.3, confusion_prob=0.3, false_positive_rate=1.0)
    a = NoisyOracleDetector(noisy, table)
    b = NoisyOracleDetector(noisy, table)
    a.detect(dataclasses.replace(frame, stamp_ns=frame.stamp_ns + 99))   # a has seen another frame first
    key = lambda ds: sorted((d.class_name, round(d.score, 6), d.box_xyxy) for d in ds)  # noqa: E731
    assert key(a.detect(frame)) == key(b.detect(frame))
    outs = {tuple(key(a.detect(dataclasses.replace(frame, stamp_ns=frame.stamp_ns + i)))) for i in range(20)}
    assert len(outs) > 1                                                  # other frames, other errors
