"""The torch lifting backend (lifting.backend: torch) gives the numpy path's observations to 1e-5: the
synthetic scenes (masks, box-only depth_mode and center, depth holes, detections too small to lift), the
demo scene through the whole Perception, and the real 7-Scenes frames (the real detector's boxes where the
model is installed, else boxes cut from the frame) where ../shared/realdata is present. Without torch the
core still imports and runs numpy; asking for torch then is a ConfigError saying what to do."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from memory_nodes.common.errors import ConfigError
from memory_nodes.common.types import Detection2D
from memory_nodes.perception.config import LiftingConfig, PerceptionConfig
from memory_nodes.perception.lifting import Lifter
from memory_nodes.perception.synthetic import SynthBox, demo_scene, intrinsics_for, look_at, render

REPO = Path(__file__).resolve().parents[1]
REALDATA = REPO.parent / "shared" / "realdata" / "7scenes-redkitchen"
TOL = 1e-5


def torch_lifter(cfg: LiftingConfig) -> Lifter:
    pytest.importorskip("torch", reason="torch is not installed (the torch lifting backend needs it)")
    return Lifter(dataclasses.replace(cfg, backend="torch", device="cpu"))


def assert_same(a, b) -> int:
    """The two backends' outputs for one frame agree; returns how many observations were compared."""
    assert len(a) == len(b)
    n = 0
    for x, y in zip(a, b):
        assert (x is None) == (y is None)
        if x is None:
            continue
        n += 1
        assert x.num_points == y.num_points and x.class_name == y.class_name
        for k in ("centroid_m", "bbox_min_m", "bbox_max_m"):
            np.testing.assert_allclose(getattr(y, k), getattr(x, k), atol=TOL, rtol=0)
        assert (x.points_m is None) == (y.points_m is None)
        if x.points_m is not None:
            assert x.points_m.shape == y.points_m.shape
            np.testing.assert_allclose(y.points_m, x.points_m, atol=TOL, rtol=0)
        np.testing.assert_allclose(y.color_rgb, x.color_rgb, atol=TOL, rtol=0)
        assert y.distance_m == pytest.approx(x.distance_m, abs=TOL)
    return n


def box_of(mask: np.ndarray):
    rows, cols = np.nonzero(mask)
    return float(cols.min()), float(rows.min()), float(cols.max() + 1), float(rows.max() + 1)


@pytest.fixture(scope="module")
def demo():
    objects, walls = demo_scene()
    K = intrinsics_for(640, 480)
    T = look_at((0.0, 0.0, 1.15), (2.0, 0.0, 0.3))
    return objects, render(objects, K, T, stamp_ns=10, walls=walls), T


@pytest.mark.parametrize("cfg", [LiftingConfig(), LiftingConfig(box_foreground="center"),
                                 LiftingConfig(pixel_stride=1, keep_points=False),
                                 LiftingConfig(min_points=400, max_points_per_detection=800)],
                         ids=["depth_mode", "center", "stride1_nocloud", "big_min_points"])
def test_masks_and_boxes_match_numpy(demo, cfg):
    objects, frame, T = demo
    dets = []
    for o in objects:
        m = frame.instance_mask == o.instance_id
        if m.sum() < 5:
            continue
        dets.append(Detection2D(o.class_name, 0.9, mask=m, box_xyxy=box_of(m)))
        dets.append(Detection2D(o.class_name, 0.8, box_xyxy=box_of(m)))      # box only
    dets.append(Detection2D("tiny", 0.5, box_xyxy=(10.0, 10.0, 12.0, 12.0)))  # too few points
    dets.append(Detection2D("off", 0.5, box_xyxy=(700.0, 10.0, 720.0, 30.0)))  # outside the image
    a = Lifter(cfg).lift(frame, dets, T)
    b = torch_lifter(cfg).lift(frame, dets, T)
    assert assert_same(a, b) >= 4
    assert a[-1] is None and a[-2] is None


def test_depth_holes_nan_and_no_detections(demo):
    objects, frame, T = demo
    frame = dataclasses.replace(frame, depth_m=frame.depth_m.copy())
    frame.depth_m[::3, :] = np.nan
    frame.depth_m[1::7, :] = 0.0
    dets = [Detection2D(o.class_name, 0.9, box_xyxy=box_of(frame.instance_mask == o.instance_id))
            for o in objects if (frame.instance_mask == o.instance_id).sum() > 50]
    cfg = LiftingConfig()
    assert assert_same(Lifter(cfg).lift(frame, dets, T), torch_lifter(cfg).lift(frame, dets, T)) >= 1
    assert torch_lifter(cfg).lift(frame, [], T) == []


def test_box_only_table_in_front_of_a_wall_matches():
    K = intrinsics_for(320, 240)
    T = look_at((0.0, 0.0, 1.0), (2.0, 0.0, 0.4))
    wall = SynthBox((3.05, 0.0, 1.25), (0.1, 8.0, 2.5), 0, "wall", (220, 220, 210))
    top = SynthBox((2.0, 0.0, 0.73), (0.8, 1.2, 0.04), 1, "table", (150, 100, 60))
    legs = [SynthBox((2.0 + sx * 0.375, sy * 0.575, 0.355), (0.05, 0.05, 0.71), 1, "table", (150, 100, 60))
            for sx in (-1, 1) for sy in (-1, 1)]
    frame = render([top] + legs, K, T, walls=[wall])
    det = [Detection2D("table", 0.9, box_xyxy=box_of(frame.instance_mask == 1))]
    cfg = LiftingConfig()
    assert assert_same(Lifter(cfg).lift(frame, det, T), torch_lifter(cfg).lift(frame, det, T)) == 1


def test_whole_perception_same_output(demo):
    objects, frame, T = demo
    from memory_nodes.perception.pipeline import Perception
    outs = []
    for backend in ("numpy", "torch"):
        if backend == "torch":
            pytest.importorskip("torch")
        cfg = PerceptionConfig()
        cfg.lifting = dataclasses.replace(cfg.lifting, backend=backend, device="cpu")
        p = Perception(cfg)
        p.set_class_table({o.instance_id: o.class_name for o in objects})
        outs.append(p.process(frame, T))
    assert outs[1].place_id == outs[0].place_id
    assert assert_same(outs[0].observations, outs[1].observations) >= 3


@pytest.mark.skipif(not REALDATA.is_dir(), reason=f"no 7-Scenes frames at {REALDATA}")
def test_real_7scenes_frames_match():
    from bench.realdata import Recording
    rec = Recording(REALDATA)
    cfg = LiftingConfig()
    detector = None
    model = REPO / "models" / "nanodet-coco.onnx"
    if model.is_file():
        from memory_nodes.common.config import load_node_params
        from memory_nodes.perception.onnx_detector import OnnxDetector
        onnx = PerceptionConfig.from_params(load_node_params(REPO / "config" / "perception.yaml", "perception")).onnx
        detector = OnnxDetector(dataclasses.replace(onnx, model_path=str(model), providers=["CPUExecutionProvider"]))
    rng = np.random.default_rng(0)
    numpy_l, torch_l = Lifter(cfg), torch_lifter(cfg)
    n = 0
    for i in range(0, rec.n_frames, max(1, rec.n_frames // 12)):
        frame, T = rec.frame(i), rec.map_T_camera(i)
        if detector is not None:
            dets = detector.detect(frame)
        else:
            dets = []
            for _ in range(6):
                x0, y0 = rng.uniform(0, 560), rng.uniform(0, 400)
                dets.append(Detection2D("thing", 0.5, box_xyxy=(x0, y0, x0 + rng.uniform(20, 300),
                                                                y0 + rng.uniform(20, 300))))
        n += assert_same(numpy_l.lift(frame, dets, T), torch_l.lift(frame, dets, T))
    assert n >= 10


def test_backend_and_device_are_validated():
    with pytest.raises(ConfigError, match="lifting.backend"):
        LiftingConfig(backend="jax").validate()
    with pytest.raises(ConfigError, match="lifting.device"):
        LiftingConfig(device="tpu").validate()
    assert Lifter(LiftingConfig()).backend_name == "numpy" and Lifter(LiftingConfig()).device_name == "cpu"


def test_device_auto_is_cpu_without_cuda_and_cuda_without_a_gpu_fails():
    torch = pytest.importorskip("torch")
    from memory_nodes.perception.lifting_torch import resolve_device

    class NoCuda:
        class cuda:
            @staticmethod
            def is_available():
                return False

    class WithCuda:
        class cuda:
            @staticmethod
            def is_available():
                return True

    assert resolve_device(NoCuda, "auto") == "cpu" and resolve_device(WithCuda, "auto") == "cuda:0"
    assert resolve_device(WithCuda, "cpu") == "cpu"
    with pytest.raises(ConfigError, match="no CUDA device"):
        resolve_device(NoCuda, "cuda")
    expected = "cuda:0" if torch.cuda.is_available() else "cpu"
    assert Lifter(LiftingConfig(backend="torch")).device_name == expected


def test_core_imports_and_lifts_without_torch():
    """torch made unimportable: the core imports, numpy lifting runs, the torch backend says what to do."""
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from memory_nodes.perception.pipeline import Perception\n"
        "from memory_nodes.perception.config import PerceptionConfig, LiftingConfig\n"
        "from memory_nodes.perception.lifting import Lifter\n"
        "from memory_nodes.common.errors import ConfigError\n"
        "Perception(PerceptionConfig())\n"
        "try:\n"
        "    Lifter(LiftingConfig(backend='torch'))\n"
        "except ConfigError as e:\n"
        "    assert 'lifting.backend: numpy' in str(e), e\n"
        "    print('ok')\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
