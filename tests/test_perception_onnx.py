"""The ONNX detector on a tiny model built with torch at test time (nothing downloaded): onnxruntime runs
it on the CPU fallback, the decoder thresholds, rescales and suppresses duplicates with NMS."""
from __future__ import annotations

import numpy as np
import pytest

from memory_nodes.common.errors import ConfigError, InputError
from memory_nodes.common.types import CameraIntrinsics, RGBDFrame
from memory_nodes.perception.config import OnnxConfig, PerceptionConfig
from memory_nodes.perception.onnx_detector import OnnxDetector, choose_providers, decode, nms
from memory_nodes.perception.pipeline import Perception

IN_W, IN_H = 64, 48
CLASSES = ["red_thing", "green_thing", "blue_thing"]


def anchors() -> np.ndarray:
    """4 x 3 grid cells of 16 x 16 px, each twice: as is and shifted by 2 px (a duplicate for NMS)."""
    cells = [(c * 16.0, r * 16.0, c * 16.0 + 16.0, r * 16.0 + 16.0) for r in range(3) for c in range(4)]
    shifted = [(x0 + 2, y0 + 2, x1 + 2, y1 + 2) for x0, y0, x1, y1 in cells]
    return np.array(cells + shifted, np.float32)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    import warnings

    import torch  # installed by scripts/setup.sh (torch==2.13.0, CPU)

    class TinyDetector(torch.nn.Module):
        """Per anchor and class: a score from how strongly that colour dominates the anchor's cell."""

        def __init__(self):
            super().__init__()
            self.register_buffer("boxes", torch.from_numpy(anchors())[None])
            pool = torch.zeros(24, IN_H * IN_W)
            for i, (x0, y0, x1, y1) in enumerate(anchors()):
                m = torch.zeros(IN_H, IN_W)
                m[int(y0):min(int(y1), IN_H), int(x0):min(int(x1), IN_W)] = 1.0
                pool[i] = m.flatten() / m.sum()
            self.register_buffer("pool", pool)

        def forward(self, image):
            flat = image.flatten(2)                                # (1, 3, H*W)
            means = torch.einsum("bcp,ap->bac", flat, self.pool)   # (1, 24, 3) mean colour per anchor
            dominance = means - means.mean(dim=2, keepdim=True)
            scores = torch.sigmoid(12.0 * (dominance - 0.2))
            return self.boxes, scores

    path = tmp_path_factory.mktemp("onnx") / "tiny_detector.onnx"
    model = TinyDetector().eval()
    with warnings.catch_warnings():   # the TorchScript exporter needs no onnxscript; it warns it is legacy
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(model, (torch.zeros(1, 3, IN_H, IN_W),), str(path), input_names=["image"],
                          output_names=["boxes", "scores"], opset_version=17, dynamo=False)
    return str(path)


def config(path: str, **kw) -> OnnxConfig:
    base = dict(model_path=path, class_names=CLASSES, input_width=IN_W, input_height=IN_H,
                providers=["NoSuchExecutionProvider", "CPUExecutionProvider"], score_threshold=0.5)
    base.update(kw)
    return OnnxConfig(**base)


def image_with_patches(w: int, h: int) -> np.ndarray:
    """Grey image, a red patch over cell (col 1, row 0) and a blue one over cell (col 3, row 2), scaled."""
    img = np.full((IN_H, IN_W, 3), 128, np.uint8)
    img[0:16, 16:32] = (230, 20, 20)
    img[32:48, 48:64] = (20, 20, 230)
    import cv2
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_NEAREST)


def test_onnx_detector_decodes_boxes_with_nms(model_path):
    det = OnnxDetector(config(model_path))
    assert det.providers == ["CPUExecutionProvider"]        # the unknown provider fell back to the CPU
    w, h = 320, 240
    K = CameraIntrinsics(w, h, 250.0, 250.0, w / 2, h / 2)
    frame = RGBDFrame(0, image_with_patches(w, h), np.full((h, w), 2.0, np.float32), K)
    dets = det.detect(frame)
    assert sorted(d.class_name for d in dets) == ["blue_thing", "red_thing"]   # duplicates suppressed
    red = next(d for d in dets if d.class_name == "red_thing")
    assert np.allclose(red.box_xyxy, (80.0, 0.0, 160.0, 80.0), atol=0.5)    # the unshifted cell, x5
    assert 0.5 < red.score <= 1.0 and red.mask is None
    # class-agnostic NMS with a loose threshold keeps the shifted duplicates too
    loose = OnnxDetector(config(model_path, nms_iou_threshold=0.9, class_agnostic_nms=True)).detect(frame)
    assert len(loose) == 4


def test_pipeline_lifts_onnx_boxes(model_path):
    cfg = PerceptionConfig()
    cfg.detector.kind = "onnx"
    cfg.onnx = config(model_path)
    w, h = 320, 240
    K = CameraIntrinsics(w, h, 250.0, 250.0, (w - 1) / 2, (h - 1) / 2)
    frame = RGBDFrame(5, image_with_patches(w, h), np.full((h, w), 2.0, np.float32), K)
    out = Perception(cfg).process(frame, np.eye(4))
    red = next(o for o in out.observations if o.class_name == "red_thing")
    # cell centre (120, 40) px at 2 m through the pinhole (the flat patch has no depth of its own,
    # so the centre sits half a visible width behind it)
    assert red.centroid_m[0] == pytest.approx((120 - K.cx) / K.fx * 2.0, abs=0.03)
    assert red.centroid_m[1] == pytest.approx((40 - K.cy) / K.fy * 2.0, abs=0.03)


def test_yolo_layout_and_bad_outputs():
    cfg = OnnxConfig(class_names=["a", "b"], input_width=100, input_height=100, output_layout="yolo",
                     score_threshold=0.3)
    raw = np.zeros((1, 6, 3), np.float32)
    raw[0, :, 0] = (50, 50, 20, 20, 0.9, 0.1)     # a at the centre
    raw[0, :, 1] = (51, 50, 20, 20, 0.8, 0.1)     # its duplicate
    raw[0, :, 2] = (51, 50, 20, 20, 0.1, 0.7)     # b at the same place: other class, kept
    dets = decode([raw], cfg, (200, 100))
    assert [(d.class_name, round(d.score, 2)) for d in dets] == [("a", 0.9), ("b", 0.7)]
    assert np.allclose(dets[0].box_xyxy, (80, 40, 120, 60))
    with pytest.raises(InputError) as e:
        decode([np.zeros((1, 5, 3))], cfg, (100, 100))
    assert e.value.cause == "bad_model_output"


def test_nms_and_provider_choice():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], float)
    assert nms(boxes, np.array([0.5, 0.9, 0.6]), 0.5, 10).tolist() == [1, 2]
    assert choose_providers(["CUDAExecutionProvider", "CPUExecutionProvider"], ["CPUExecutionProvider"]) \
        == ["CPUExecutionProvider"]
    assert choose_providers(["CUDAExecutionProvider"], ["CUDAExecutionProvider", "CPUExecutionProvider"]) \
        == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    with pytest.raises(ConfigError):
        OnnxDetector(OnnxConfig(model_path="", class_names=["a"]))
    with pytest.raises(ConfigError, match="cannot load"):
        OnnxDetector(OnnxConfig(model_path="/nonexistent/model.onnx", class_names=["a"]))
