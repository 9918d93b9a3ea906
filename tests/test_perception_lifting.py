"""Lifting and frame validation: known synthetic geometry -> centroids within 2 cm; each bad input gets
its own clear rejection."""
from __future__ import annotations

import numpy as np
import pytest

from memory_nodes.common.errors import InputError
from memory_nodes.common.types import CameraIntrinsics, Detection2D, RGBDFrame
from memory_nodes.perception.config import LiftingConfig, PerceptionConfig
from memory_nodes.perception.lifting import Lifter, depth_foreground, voxel_downsample
from memory_nodes.perception.pipeline import Perception
from memory_nodes.perception.synthetic import SynthBox, demo_scene, intrinsics_for, look_at, render


def exact_config() -> PerceptionConfig:
    cfg = PerceptionConfig()
    o = cfg.oracle
    o.miss_prob_base = o.miss_prob_per_m = o.miss_prob_occlusion = o.miss_prob_small = 0.0
    o.confusion_prob = 0.0
    o.false_positive_rate = 0.0
    return cfg


@pytest.fixture(scope="module")
def scene():
    objects, walls = demo_scene()
    K = intrinsics_for(640, 480)
    T = look_at((0.0, 0.0, 1.15), (2.0, 0.0, 0.3))
    return objects, render(objects, K, T, stamp_ns=10, walls=walls), T


@pytest.mark.parametrize("name", ["mug", "book", "ball"])
def test_small_object_centroid_within_2cm(scene, name):
    objects, frame, T = scene
    p = Perception(exact_config())
    p.set_class_table({o.instance_id: o.class_name for o in objects})
    out = p.process(frame, T)
    obs = [o for o in out.observations if o.class_name == name]
    assert len(obs) == 1
    truth = np.array(next(o.center_m for o in objects if o.class_name == name))
    assert np.linalg.norm(obs[0].centroid_m - truth) < 0.02
    # the box holds the centroid, the cloud lies inside the box, the colour is the object's
    o = obs[0]
    assert np.all(o.bbox_min_m <= o.centroid_m + 1e-6) and np.all(o.centroid_m <= o.bbox_max_m + 0.06)
    assert o.points_m is not None and 0 < o.points_m.shape[0] <= o.num_points
    assert np.all(o.points_m >= o.bbox_min_m - 1e-9) and np.all(o.points_m <= o.bbox_max_m + 1e-9)
    rgb = np.array(next(b.rgb for b in objects if b.class_name == name)) / 255.0
    assert np.allclose(o.color_rgb, rgb, atol=0.02)
    assert o.distance_m == pytest.approx(np.linalg.norm(truth - T[:3, 3]), abs=0.05)


def test_centroid_holds_at_320x240_and_box_only_detection():
    box = SynthBox((1.8, 0.1, 0.06), (0.12, 0.12, 0.12), 1, "toy")
    K = intrinsics_for(320, 240)
    T = look_at((0.0, 0.0, 1.1), (1.8, 0.1, 0.06))
    frame = render([box], K, T)
    m = frame.instance_mask == 1
    rows, cols = np.nonzero(m)
    xyxy = (float(cols.min()), float(rows.min()), float(cols.max() + 1), float(rows.max() + 1))
    lifter = Lifter(LiftingConfig(pixel_stride=1, min_points=5))
    with_mask, box_only = lifter.lift(frame, [Detection2D("toy", 0.9, mask=m, box_xyxy=xyxy),
                                              Detection2D("toy", 0.9, box_xyxy=xyxy)], T)
    assert np.linalg.norm(with_mask.centroid_m - box.center_m) < 0.02
    # a box has no mask: only its centre is lifted, so the extents (and the centre) are coarser
    assert np.linalg.norm(box_only.centroid_m - box.center_m) < 0.05


def table_parts(cx: float, cy: float, iid: int = 1):
    """A 1.2 x 0.8 m table, 0.75 m high: a 4 cm top on four 5 cm legs (SynthBoxes of one instance)."""
    w, d, h, top, leg = 1.2, 0.8, 0.75, 0.04, 0.05
    parts = [SynthBox((cx, cy, h - top / 2), (d, w, top), iid, "table", (150, 100, 60))]
    for sx in (-1, 1):
        for sy in (-1, 1):
            parts.append(SynthBox((cx + sx * (d / 2 - leg / 2), cy + sy * (w / 2 - leg / 2), (h - top) / 2),
                                  (leg, leg, h - top), iid, "table", (150, 100, 60)))
    return parts


def test_box_only_table_lands_on_the_table_not_the_wall_behind_it():
    """A table's box is mostly what is seen between its legs and under its top: floor, and a wall 0.6 m
    behind it. The nearest dominant depth mode is the table; the central-60% rule lifts the wall."""
    K = intrinsics_for(320, 240)
    T = look_at((0.0, 0.0, 1.0), (2.0, 0.0, 0.4))
    wall = SynthBox((3.05, 0.0, 1.25), (0.1, 8.0, 2.5), 0, "wall", (220, 220, 210))
    frame = render(table_parts(2.0, 0.0), K, T, walls=[wall])
    m = frame.instance_mask == 1
    rows, cols = np.nonzero(m)
    box = Detection2D("table", 0.9, box_xyxy=(float(cols.min()), float(rows.min()), float(cols.max() + 1),
                                               float(rows.max() + 1)))
    assert m[rows.min():rows.max() + 1, cols.min():cols.max() + 1].mean() < 0.35    # mostly background
    truth = np.array([2.0, 0.0, 0.375])
    fg = Lifter(LiftingConfig()).lift(frame, [box], T)[0]
    assert np.linalg.norm(fg.centroid_m - truth) < 0.05
    assert np.all(fg.bbox_max_m[:2] < truth[:2] + [0.45, 0.65])    # no point beyond the table's far side
    old = Lifter(LiftingConfig(box_foreground="center")).lift(frame, [box], T)[0]
    assert np.linalg.norm(old.centroid_m - truth) > 0.3             # the rule before: pulled to the wall
    # a mask needs no foreground: the same with and without depth_mode
    with_mask = Detection2D("table", 0.9, mask=m, box_xyxy=box.box_xyxy)
    a = Lifter(LiftingConfig()).lift(frame, [with_mask], T)[0]
    b = Lifter(LiftingConfig(box_foreground="center")).lift(frame, [with_mask], T)[0]
    assert np.array_equal(a.centroid_m, b.centroid_m) and a.num_points == b.num_points


def test_depth_foreground_keeps_the_nearest_dominant_mode():
    rng = np.random.default_rng(0)
    cfg = LiftingConfig()
    obj = rng.normal(1.50, 0.01, 300)                 # a mug's front, 30% of the box
    wall = rng.normal(2.40, 0.01, 650)                # the wall behind it, 65%
    flying = rng.uniform(1.5, 2.4, 50)                # edge pixels blending the two
    z = np.concatenate([obj, wall, flying])
    keep = depth_foreground(z, 0.1, cfg)              # box 0.1 m wide at 1 m depth
    assert keep[:300].all() and not keep[300:950].any()
    # blends more than a box width (0.1 m at 1 m: 0.15 m at 1.5 m) behind the mug's front are dropped
    assert not keep[950:][flying > 1.5 + 0.15 + 0.05].any()
    # a speck nearer than the object (2%) is not a mode: the mug still wins
    speck = np.full(20, 0.8)
    keep = depth_foreground(np.concatenate([speck, obj, wall]), 0.1, cfg)
    assert not keep[:20].any() and keep[20:320].all() and not keep[320:].any()
    # one surface: everything stays; the band behind the mode ends one box width back
    ramp = np.linspace(1.0, 1.3, 200)
    assert depth_foreground(ramp, 0.5, cfg).all()
    assert not depth_foreground(np.concatenate([np.full(100, 1.0), np.linspace(1.0, 3.0, 100)]), 0.2,
                                cfg)[-50:].any()
    assert depth_foreground(np.zeros(0), 0.1, cfg).size == 0


def test_depth_holes_are_skipped_not_fatal(scene):
    objects, frame, T = scene
    holes = RGBDFrame(frame.stamp_ns, frame.rgb, frame.depth_m.copy(), frame.intrinsics,
                      instance_mask=frame.instance_mask)
    rng = np.random.default_rng(0)
    bad = rng.random(holes.depth_m.shape) < 0.3
    holes.depth_m[bad] = rng.choice(np.array([np.nan, 0.0, np.inf], np.float32), size=int(bad.sum()))
    p = Perception(exact_config())
    p.set_class_table({o.instance_id: o.class_name for o in objects})
    mug = [o for o in p.process(holes, T).observations if o.class_name == "mug"]
    assert len(mug) == 1 and np.all(np.isfinite(mug[0].centroid_m))
    assert np.linalg.norm(mug[0].centroid_m - np.array([1.6, 0.0, 0.05])) < 0.02


def test_voxel_downsample_packs_one_key_per_voxel():
    pts = np.array([[0.001, 0.001, 0.001], [0.009, 0.002, 0.003], [0.011, 0.0, 0.0], [-0.001, 0.0, 0.0],
                    [-5.0, 3.0, 1.0]])
    out = voxel_downsample(pts, 0.01)
    assert out.shape == (4, 3)
    assert any(np.allclose(r, [0.005, 0.0015, 0.002]) for r in out)   # the two points in voxel (0, 0, 0)
    big = np.random.default_rng(1).uniform(-3, 3, (20000, 3))
    ref = np.unique(np.floor(big / 0.1).astype(np.int64), axis=0).shape[0]
    assert voxel_downsample(big, 0.1).shape[0] == ref


# ---------------------------------------------------------------------------- rejections


def _frame(**kw) -> RGBDFrame:
    K = kw.pop("K", intrinsics_for(64, 48))
    base = dict(stamp_ns=1, rgb=np.zeros((48, 64, 3), np.uint8), depth_m=np.ones((48, 64), np.float32),
                intrinsics=K)
    base.update(kw)
    return RGBDFrame(**base)


@pytest.mark.parametrize("frame, pose, cause", [
    (_frame(rgb=np.zeros((48, 64), np.uint8)), np.eye(4), "bad_rgb"),
    (_frame(rgb=np.zeros((48, 64, 3), np.float32)), np.eye(4), "bad_rgb"),
    (_frame(depth_m=np.ones((48, 64), np.uint16)), np.eye(4), "bad_depth"),
    (_frame(depth_m=np.ones((24, 32), np.float32)), np.eye(4), "size_mismatch"),
    (_frame(K=intrinsics_for(640, 480)), np.eye(4), "size_mismatch"),
    (_frame(K=CameraIntrinsics(64, 48, 0.0, 0.0, 32, 24)), np.eye(4), "bad_intrinsics"),
    (_frame(depth_m=np.full((48, 64), np.nan, np.float32)), np.eye(4), "no_valid_depth"),
    (_frame(depth_m=np.zeros((48, 64), np.float32)), np.eye(4), "no_valid_depth"),
    (_frame(depth_m=np.full((48, 64), np.inf, np.float32)), np.eye(4), "no_valid_depth"),
    (_frame(instance_mask=np.zeros((10, 10), np.int32)), np.eye(4), "bad_instance_mask"),
    (_frame(), None, "missing_tf"),
    (_frame(), np.full((4, 4), np.nan), "bad_pose"),
    (_frame(), np.diag([2.0, 1.0, 1.0, 1.0]), "bad_pose"),
])
def test_bad_input_is_rejected_with_its_cause(frame, pose, cause):
    p = Perception(exact_config(), detector=_NoDetections())
    with pytest.raises(InputError) as e:
        p.process(frame, pose)
    assert e.value.cause == cause
    assert str(e.value).startswith(cause)
    # the pipeline stays usable after a rejection
    assert p.process(_frame(stamp_ns=2), np.eye(4)).stamp_ns == 2


def test_oracle_without_instances_or_table_is_rejected():
    p = Perception(exact_config())
    with pytest.raises(InputError) as e:
        p.process(_frame(), np.eye(4))
    assert e.value.cause == "no_instance_mask"
    with pytest.raises(InputError) as e:
        p.process(_frame(instance_mask=np.zeros((48, 64), np.int32)), np.eye(4))
    assert e.value.cause == "no_class_table"


class _NoDetections:
    def detect(self, frame):
        return []


@pytest.mark.parametrize("n", [1, 2, 3, 17, 800])
def test_percentiles_are_numpys_linear_percentiles(n):
    """lifting_ops.percentiles (one partial sort for the ranks the percentile box needs) gives the values
    np.percentile gives, for every row, at the qs lifting asks for and at the ends."""
    from memory_nodes.perception.lifting_ops import percentiles
    rng = np.random.default_rng(n)
    rows = rng.normal(size=(3, n)) * 2.0
    rows[1, : n // 2] = 0.25           # ties
    for qs in ((2.0, 98.0), (5.0, 95.0), (0.0, 100.0), (50.0,)):
        want = np.percentile(rows, qs, axis=1).T
        assert np.allclose(percentiles(rows, qs), want, rtol=0, atol=1e-12)
    assert np.allclose(percentiles(rows[0], (5.0, 95.0)), np.percentile(rows[0], (5.0, 95.0)), rtol=0, atol=1e-12)
    with pytest.raises(ValueError):
        percentiles(np.zeros((2, 0)), (5.0,))
