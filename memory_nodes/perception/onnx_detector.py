"""A detector exported to ONNX, run through onnxruntime, with a real output decoder (boxes + NMS).

Input: the RGB image resized to (input_height, input_width), float32 NCHW in [0, 1].
Outputs (``onnx.output_layout``):
- "boxes_scores": boxes (1, N, 4) as x1, y1, x2, y2 in input pixels, and scores (1, N, C) in [0, 1];
- "yolo": a single (1, 4 + C, N) tensor with rows cx, cy, w, h (input pixels) then C class scores.
Detections are boxes (no mask); lifting takes the depth inside the box and rejects the background.
"""
from __future__ import annotations

from typing import List, Sequence

import numpy as np

from memory_nodes.common.errors import ConfigError, InputError
from memory_nodes.common.types import Detection2D, RGBDFrame

from .config import OnnxConfig


def iou_one_to_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one xyxy box with (N, 4) xyxy boxes."""
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0.0, None) * np.clip(y2 - y1, 0.0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-12)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, max_keep: int) -> np.ndarray:
    """Greedy non-maximum suppression; indices of the kept boxes, best first."""
    order = np.argsort(-scores, kind="stable")
    keep: List[int] = []
    while order.size and len(keep) < max_keep:
        i = int(order[0])
        keep.append(i)
        if order.size == 1:
            break
        rest = order[1:]
        order = rest[iou_one_to_many(boxes[i], boxes[rest]) <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def decode(outputs: Sequence[np.ndarray], config: OnnxConfig, image_wh: tuple) -> List[Detection2D]:
    """Raw model outputs -> thresholded, NMS-filtered detections in image pixels."""
    n_cls = len(config.class_names)
    if config.output_layout == "yolo":
        raw = np.asarray(outputs[0])[0]
        if raw.shape[0] != 4 + n_cls:
            raise InputError("bad_model_output", f"yolo output {raw.shape}, expected (4 + {n_cls}, N)")
        cx, cy, bw, bh = raw[0], raw[1], raw[2], raw[3]
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
        scores = raw[4:].T
    else:
        if len(outputs) < 2:
            raise InputError("bad_model_output", "boxes_scores layout needs two outputs (boxes, scores)")
        boxes = np.asarray(outputs[0])[0].reshape(-1, 4)
        scores = np.asarray(outputs[1])[0]
        if scores.ndim != 2 or scores.shape[1] != n_cls or scores.shape[0] != boxes.shape[0]:
            raise InputError("bad_model_output",
                             f"scores {scores.shape} vs boxes {boxes.shape} and {n_cls} classes")
    boxes = boxes.astype(np.float64)
    cls_idx = np.argmax(scores, axis=1)
    best = scores[np.arange(scores.shape[0]), cls_idx].astype(np.float64)
    ok = (best >= config.score_threshold) & np.all(np.isfinite(boxes), axis=1) \
        & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    boxes, cls_idx, best = boxes[ok], cls_idx[ok], best[ok]
    if not best.size:
        return []
    if config.class_agnostic_nms:
        keep = nms(boxes, best, config.nms_iou_threshold, config.max_detections)
    else:
        # offset boxes per class so boxes of different classes never overlap (one NMS pass)
        offset = (cls_idx.astype(np.float64) * (boxes.max() + 1.0))[:, None]
        keep = nms(boxes + offset, best, config.nms_iou_threshold, config.max_detections)
    w, h = image_wh
    sx, sy = w / config.input_width, h / config.input_height
    out: List[Detection2D] = []
    for i in keep:
        x1, y1, x2, y2 = boxes[i]
        box = (float(np.clip(x1 * sx, 0, w)), float(np.clip(y1 * sy, 0, h)),
               float(np.clip(x2 * sx, 0, w)), float(np.clip(y2 * sy, 0, h)))
        if box[2] - box[0] < 1.0 or box[3] - box[1] < 1.0:
            continue
        out.append(Detection2D(class_name=config.class_names[int(cls_idx[i])], score=float(best[i]),
                               box_xyxy=box))
    return out


def choose_providers(wanted: Sequence[str], available: Sequence[str]) -> List[str]:
    """The configured providers that this onnxruntime has, in order, always ending with the CPU one."""
    chosen = [p for p in wanted if p in available]
    if "CPUExecutionProvider" not in chosen:
        chosen.append("CPUExecutionProvider")
    return chosen


class OnnxDetector:
    """Runs an ONNX detector; ``providers`` shows what onnxruntime actually uses."""

    def __init__(self, config: OnnxConfig):
        config.validate()
        if not config.model_path:
            raise ConfigError("onnx.model_path is empty")
        if not config.class_names:
            raise ConfigError("onnx.class_names is empty")
        import onnxruntime as ort

        self.config = config
        opts = ort.SessionOptions()
        if config.intra_op_threads:
            opts.intra_op_num_threads = config.intra_op_threads
        opts.inter_op_num_threads = 1
        providers = choose_providers(config.providers, ort.get_available_providers())
        try:
            self._session = ort.InferenceSession(config.model_path, sess_options=opts, providers=providers)
        except Exception as e:  # onnxruntime raises its own types for a missing/corrupt model
            raise ConfigError(f"cannot load ONNX model {config.model_path!r}: {e}") from e
        self.providers = list(self._session.get_providers())
        self._input_name = self._session.get_inputs()[0].name

    def detect(self, frame: RGBDFrame) -> List[Detection2D]:
        import cv2

        cfg = self.config
        rgb = frame.rgb
        h, w = rgb.shape[:2]
        if (w, h) != (cfg.input_width, cfg.input_height):
            rgb = cv2.resize(rgb, (cfg.input_width, cfg.input_height), interpolation=cv2.INTER_LINEAR)
        blob = (rgb.astype(np.float32) * (1.0 / 255.0)).transpose(2, 0, 1)[None]
        outputs = self._session.run(None, {self._input_name: np.ascontiguousarray(blob)})
        return decode(outputs, cfg, (w, h))
