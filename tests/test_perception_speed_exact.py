"""The per-frame fast paths give the same results as the plain numpy they replace (bit for bit): the median by
partition, a box's depth window sliced rather than gathered, the grid's strided depth slice, and the decoder's
float32 pre-threshold on the class scores."""
from __future__ import annotations

import numpy as np
import pytest

from memory_nodes.common.types import CameraIntrinsics, Detection2D, RGBDFrame
from memory_nodes.perception.config import LiftingConfig, OnnxConfig, RoomsConfig
from memory_nodes.perception.lifting import Lifter
from memory_nodes.perception.lifting_ops import median
from memory_nodes.perception.onnx_detector import Decoder, _f32_floor, plan_geometry
from memory_nodes.perception.rooms import OccupancyGrid

K = CameraIntrinsics(fx=525.0, fy=525.0, cx=319.5, cy=239.5, width=640, height=480)


@pytest.mark.parametrize("n", [1, 2, 3, 10, 11, 1000, 1001])
def test_median_is_numpys(n):
    rng = np.random.default_rng(n)
    for a in (rng.random(n), rng.integers(0, 5, n).astype(np.float64)):     # ties too
        assert median(a) == float(np.median(a))


def test_box_window_is_the_pixels_grid():
    """``_box_grid``'s strided window holds ``_pixels``' pixels in the same order, for boxes anywhere,
    clipped, big (coarser stride) and empty."""
    lifter = Lifter(LiftingConfig())
    shape = (480, 640)
    rng = np.random.default_rng(0)
    boxes = [(-20.0, -5.0, 50.0, 40.0), (600.0, 450.0, 700.0, 500.0), (0.0, 0.0, 640.0, 480.0),
             (100.0, 100.0, 100.5, 100.5), (300.0, 200.0, 290.0, 210.0)]
    for _ in range(200):
        x0, x1 = np.sort(rng.uniform(-50, 690, 2))
        y0, y1 = np.sort(rng.uniform(-50, 530, 2))
        boxes.append((float(x0), float(y0), float(x1), float(y1)))
    idx = np.arange(480 * 640).reshape(shape)
    for box in boxes:
        det = Detection2D(class_name="cup", score=0.9, box_xyxy=box)
        rows, cols = lifter.pixels(det, shape)
        r0, r1, c0, c1, s = lifter._box_grid(det, shape)
        assert np.array_equal(idx[r0:r1:s, c0:c1:s].ravel(), rows * 640 + cols), box


def _frame(seed: int) -> RGBDFrame:
    rng = np.random.default_rng(seed)
    depth = (1.0 + rng.random((480, 640)) * 2.0).astype(np.float32)
    depth[rng.random((480, 640)) < 0.1] = 0.0
    depth[200:300, 250:400] = 0.9 + rng.random((100, 150)).astype(np.float32) * 0.05   # a near object
    rgb = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    return RGBDFrame(stamp_ns=1, rgb=rgb, depth_m=depth, intrinsics=K)


def test_grid_integrate_matches_the_gathered_rays():
    cfg = RoomsConfig()
    frame = _frame(1)
    T = np.eye(4)
    T[:3, :3] = [[0, 0, 1], [-1, 0, 0], [0, -1, 0]]        # optical -> map (z forward = x)
    T[:3, 3] = [0.5, -0.3, 1.0]
    grid = OccupancyGrid(cfg)
    grid.integrate(frame.depth_m, K, T)
    # the reference: the ray table's pixels gathered by index, as before
    rr, cc, rays = grid._ray_table(K, cfg.pixel_stride)
    z = frame.depth_m[rr, cc].ravel().astype(np.float64)
    ok = (z > 0.05) & (z < cfg.max_range_m)
    pm = (rays[ok] * z[ok, None]) @ T[:3, :3].T + T[:3, 3]
    col = np.floor((pm[:, 0] - grid.origin_xy_m[0]) / grid.resolution_m).astype(np.int64)
    row = np.floor((pm[:, 1] - grid.origin_xy_m[1]) / grid.resolution_m).astype(np.int64)
    free = np.zeros_like(grid.free_hits)
    occ = np.zeros_like(grid.occ_hits)
    h = pm[:, 2]
    np.add.at(free, (row[h < cfg.floor_max_z_m], col[h < cfg.floor_max_z_m]), 1)
    o = (h >= cfg.obstacle_min_z_m) & (h <= cfg.obstacle_max_z_m)
    np.add.at(occ, (row[o], col[o]), 1)
    assert free.sum() > 0 and occ.sum() > 0
    assert np.array_equal(grid.free_hits, free) and np.array_equal(grid.occ_hits, occ)


def test_f32_floor():
    for x in (0.4, 0.5, 0.25, 0.1, 0.0, 0.3333, 1.0):
        f = _f32_floor(x)
        assert f.dtype == np.float32 and float(f) <= x and float(np.nextafter(f, np.float32(np.inf))) > x


def _reference_keep(scores: np.ndarray, boxes: np.ndarray, thr: float):
    """The decoder's choice before: argmax class, its score in float64 against the threshold, valid boxes."""
    cls = np.argmax(scores, axis=1)
    best = scores[np.arange(scores.shape[0]), cls].astype(np.float64)
    ok = (best >= thr) & np.all(np.isfinite(boxes), axis=1) & (boxes[:, 2] > boxes[:, 0]) \
        & (boxes[:, 3] > boxes[:, 1])
    return ok


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_decode_threshold_edge(dtype):
    """Scores a float32 ulp around the threshold, NaN, and bad boxes: the same detections as the
    argmax-then-threshold rule."""
    thr = 0.4
    cfg = OnnxConfig(output_layout="boxes_scores", score_threshold=thr, class_names=["a", "b", "c"],
                     nms_iou_threshold=0.5)
    rng = np.random.default_rng(3)
    n = 400
    f = np.float32(thr)
    near = np.array([np.nextafter(f, np.float32(0)), f, np.nextafter(f, np.float32(1)), 0.39999999, 0.4,
                     0.40000001], np.float64)
    scores = (rng.random((n, 3)) * 0.3).astype(dtype)
    scores[: near.size * 3: 3, 1] = near.astype(dtype)
    scores[50, 2] = np.nan
    scores[50, 0] = 0.9
    scores[60:80, 0] = 0.8
    xy = rng.uniform(0, 300, (n, 2))
    wh = rng.uniform(-5, 60, (n, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
    boxes[65, 0] = np.inf
    dec = Decoder(cfg)
    geo = plan_geometry((384, 288), (384, 288), "stretch")
    got = dec.decode([boxes[None], scores[None]], geo)
    ok = _reference_keep(scores, boxes.astype(np.float64), thr)
    # compare through a reference decoder run on the rows the old rule kept (NMS and output are unchanged)
    keep_rows = np.flatnonzero(ok)
    ref_scores = scores[keep_rows]
    want = dec.decode([boxes[keep_rows][None], ref_scores[None]], geo) if keep_rows.size else []
    assert [(d.class_name, d.score, d.box_xyxy) for d in got] == [(d.class_name, d.score, d.box_xyxy) for d in want]


def test_mean_colour_is_numpys_mean():
    from memory_nodes.perception.lifting import mean_colour
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    for n in (1, 12, 999, 3000, 20000):
        rows, cols = rng.integers(0, 480, n), rng.integers(0, 640, n)
        want = rgb[rows, cols].mean(axis=0)
        assert np.array_equal(mean_colour(rgb, rows, cols), want)
        assert np.array_equal(mean_colour(rgb[:, ::-1][:, ::-1], rows, cols), want)     # a non-contiguous view
    full = np.full((480, 640, 3), 255, np.uint8)
    rows, cols = np.repeat(np.arange(480), 640), np.tile(np.arange(640), 480)
    assert np.array_equal(mean_colour(full, rows, cols), full[rows, cols].mean(axis=0))
