"""A detector exported to ONNX, run through onnxruntime, with real output decoders (boxes, masks, NMS).

Flow per frame: preprocess (``Geometry``: plain resize or letterbox to the network input, channel order,
scaling) -> onnxruntime -> ``Decoder``: pick the layout's outputs (by configured name, else by shape),
decode candidates as xyxy boxes in input pixels, threshold, NMS where the layout needs it, map the boxes
back to image pixels (the exact inverse of the preprocessing), masks for segmentation heads.

Layouts (``onnx.output_layout``; N candidates, C classes, M mask coefficients, Q queries):
- "boxes_scores" (alias "ssd"): boxes (1, N, 4) and scores (1, N, C) in [0, 1]. Boxes are xyxy in input
  pixels unless ``box_format`` (xyxy | yxyx | cxcywh) and ``boxes_normalized`` ([0, 1] of the input) say
  otherwise; ``background_class``: score column 0 is background and is skipped. NMS.
- "yolov8" (aliases "yolo", "yolo11", "yolov9"): one (1, 4 + C, N) tensor, rows cx, cy, w, h (input px)
  then C class scores, as ultralytics exports YOLOv8/YOLO11 detection. NMS.
- "yolov8_seg" ("yolo11_seg"): (1, 4 + C + M, N) and protos (1, M, Hp, Wp); a detection's mask is
  sigmoid(coefficients . protos), bilinear at each image pixel inside its box, above ``mask_threshold``.
- "yolov5": (1, N, 5 + C) rows cx, cy, w, h, objectness, C class scores; score = objectness * class score.
- "yolov5_seg": (1, N, 5 + C + M) and protos (1, M, Hp, Wp).
- "yolo_end2end" ("yolov10", "yolo26"): (1, N, 6 [+ M]) x1, y1, x2, y2, score, class id (input px), already
  suppressed (YOLOv10/YOLO26, ultralytics ``nms=True`` exports) [+ protos (1, M, Hp, Wp)]. No NMS.
- "detr": pred_logits (1, Q, C + 1) with the last class "no object" (softmax over C + 1; score = the best
  of the C) and pred_boxes (1, Q, 4) cx, cy, w, h in [0, 1] of the input. No NMS.

Preprocessing (``onnx.resize``, ``normalize``, ``channel_order``): the YOLO families default to ultralytics'
letterbox (aspect kept, centred, pad 114, a dynamic input padded to a multiple of ``letterbox_stride``) and
[0, 1] scaling; DETR to a plain resize and ImageNet mean/std; "boxes_scores" (and "yolo", the old name) to a
plain resize and [0, 1]. A model with a fixed input size is fed that size (``input_width/height`` are for
dynamic inputs); NCHW or NHWC and float32/float16/uint8 inputs follow the model's input.

Class names: ``onnx.class_names``, or ``class_names_file`` (``load_class_names``), or the ``names`` in the
model's metadata (ultralytics writes them). At load one blank frame is run: a model whose outputs do not fit
the layout, or whose class count differs from the names, is a ConfigError then; outputs that stop fitting
later raise InputError("bad_model_output") per frame.
"""
from __future__ import annotations

import ast
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from memory_nodes.common.errors import ConfigError, InputError
from memory_nodes.common.types import Detection2D, RGBDFrame

from .config import OnnxConfig
from .detector_models import DEFAULT_DETECTOR

_BAD = "bad_model_output"
_NMS_LAYOUTS = ("boxes_scores", "yolov8", "yolov8_seg", "yolov5", "yolov5_seg")
_SEG_LAYOUTS = ("yolov8_seg", "yolov5_seg")
# output roles per layout, in the order of onnx.output_names
_ROLES: Dict[str, Tuple[str, ...]] = {
    "boxes_scores": ("boxes", "scores"), "yolov8": ("output",), "yolov8_seg": ("output", "protos"),
    "yolov5": ("output",), "yolov5_seg": ("output", "protos"), "yolo_end2end": ("output", "protos"),
    "detr": ("logits", "boxes")}


# ------------------------------------------------------------------------------------------ geometry


@dataclass(frozen=True)
class Geometry:
    """How an image became the network input: x_in = x_img * scale_x + pad_x (px, both axes alike);
    the input tensor is input_w x input_h and holds the resized image at (pad_x, pad_y)."""
    image_w: int
    image_h: int
    resized_w: int
    resized_h: int
    input_w: int
    input_h: int
    pad_x: int
    pad_y: int

    @property
    def scale_x(self) -> float:
        return self.resized_w / self.image_w

    @property
    def scale_y(self) -> float:
        return self.resized_h / self.image_h

    def to_image(self, boxes_in: np.ndarray) -> np.ndarray:
        """(N, 4) xyxy in input px -> image px (not clipped)."""
        out = np.empty_like(boxes_in, dtype=np.float64)
        out[:, 0::2] = (boxes_in[:, 0::2] - self.pad_x) / self.scale_x
        out[:, 1::2] = (boxes_in[:, 1::2] - self.pad_y) / self.scale_y
        return out


def plan_geometry(image_wh: Tuple[int, int], target_wh: Tuple[int, int], mode: str, stride: int = 32,
                  fixed_input: bool = True) -> Geometry:
    """The preprocessing of an image of ``image_wh`` for a network input of ``target_wh``. ``letterbox``
    follows ultralytics' LetterBox: scale to fit keeping the aspect, round, centre with the -0.1/+0.1
    split of an odd pad; a dynamic input (``fixed_input`` False) is padded only to a multiple of
    ``stride``. ``stretch`` resizes to the target."""
    w, h = int(image_wh[0]), int(image_wh[1])
    tw, th = int(target_wh[0]), int(target_wh[1])
    if mode == "stretch":
        return Geometry(w, h, tw, th, tw, th, 0, 0)
    r = min(tw / w, th / h)
    nw, nh = int(round(w * r)), int(round(h * r))
    dw, dh = tw - nw, th - nh
    if not fixed_input:
        dw, dh = dw % stride, dh % stride
    left, right = int(round(dw / 2 - 0.1)), int(round(dw / 2 + 0.1))
    top, bottom = int(round(dh / 2 - 0.1)), int(round(dh / 2 + 0.1))
    return Geometry(w, h, nw, nh, nw + left + right, nh + top + bottom, left, top)


def preprocess(rgb: np.ndarray, geo: Geometry, config: OnnxConfig, nhwc: bool = False,
               dtype: Any = np.float32) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> the (1, 3, h, w) (or (1, h, w, 3)) network input of ``geo``."""
    import cv2

    img = rgb if config.channel_order == "rgb" else rgb[:, :, ::-1]
    if (geo.resized_w, geo.resized_h) != (geo.image_w, geo.image_h):
        img = cv2.resize(img, (geo.resized_w, geo.resized_h), interpolation=cv2.INTER_LINEAR)
    right = geo.input_w - geo.resized_w - geo.pad_x
    bottom = geo.input_h - geo.resized_h - geo.pad_y
    if geo.pad_x or geo.pad_y or right or bottom:
        p = config.letterbox_pad_value
        img = cv2.copyMakeBorder(np.ascontiguousarray(img), geo.pad_y, bottom, geo.pad_x, right,
                                 cv2.BORDER_CONSTANT, value=(p, p, p))
    if np.dtype(dtype) == np.uint8:
        x = np.ascontiguousarray(img)
    else:
        mode = config.normalize_mode()
        x = img.astype(np.float32)
        if mode == "unit":
            x *= 1.0 / 255.0
        elif mode == "mean_std":
            mean = np.asarray(config.mean, np.float32)
            std = np.asarray(config.std, np.float32)
            if config.channel_order == "bgr":
                mean, std = mean[::-1], std[::-1]
            x = (x * (1.0 / 255.0) - mean) / std
        x = x.astype(dtype, copy=False)
    blob = x[None] if nhwc else x.transpose(2, 0, 1)[None]
    return np.ascontiguousarray(blob)


# ------------------------------------------------------------------------------------------ class names


def _names_from(data: Any, where: str) -> List[str]:
    """A list of names, or {id: name} (ids 0..C-1; a missing id becomes "class_<id>")."""
    if isinstance(data, (list, tuple)):
        names = [str(n) for n in data]
    elif isinstance(data, dict):
        try:
            by_id = {int(k): str(v) for k, v in data.items()}
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: class ids must be integers, got {sorted(map(str, data))[:5]}") from None
        if by_id and min(by_id) < 0:
            raise ConfigError(f"{where}: class ids must be >= 0")
        names = [by_id.get(i, f"class_{i}") for i in range(max(by_id) + 1)] if by_id else []
    else:
        raise ConfigError(f"{where}: expected a list of names or {{id: name}}, got {type(data).__name__}")
    if not names:
        raise ConfigError(f"{where}: no class names")
    return names


def load_class_names(path: str, model_path: str = "") -> List[str]:
    """Class names from a file: .json (a list, {id: name}, or an object with "names" or "id2label", as
    Hugging Face's config.json has), .yaml/.yml (a list, or ``names:`` as a list or {id: name}, as
    ultralytics' dataset and metadata files have), anything else one name per line (blank lines skipped).
    A relative path is taken from the model's folder."""
    p = Path(path).expanduser()
    if not p.is_absolute() and model_path:
        p = Path(model_path).expanduser().parent / p
    where = f"onnx.class_names_file {str(p)!r}"
    if not p.is_file():
        raise ConfigError(f"{where}: no such file")
    text = p.read_text(encoding="utf-8")
    suffix = p.suffix.lower()
    if suffix == ".json" or suffix in (".yaml", ".yml"):
        try:
            if suffix == ".json":
                data = json.loads(text)
            else:
                import yaml
                data = yaml.safe_load(text)
        except Exception as e:  # json.JSONDecodeError / yaml.YAMLError
            raise ConfigError(f"{where}: cannot parse: {e}") from e
        if isinstance(data, dict):
            key = next((k for k in ("names", "id2label") if k in data), None)
            if key is None and not all(str(k).lstrip("-").isdecimal() for k in data):
                raise ConfigError(f"{where}: no `names:` (or id2label) key")
            data = data[key] if key is not None else data
        return _names_from(data, where)
    return _names_from([ln.strip() for ln in text.splitlines() if ln.strip()], where)


def metadata_class_names(metadata: Dict[str, str]) -> List[str]:
    """The ``names`` an ultralytics export writes into the model's metadata ("{0: 'person', ...}")."""
    raw = metadata.get("names")
    if not raw:
        return []
    try:
        return _names_from(ast.literal_eval(raw), "the model's metadata names")
    except (ValueError, SyntaxError, TypeError):
        return []


# ------------------------------------------------------------------------------------------ decoding


def _f32_floor(x: float) -> np.float32:
    """The largest float32 <= ``x``: scores (float32, float16 or float64) compared with it in float32 or
    wider keep every score >= ``x`` (and a few just below it, which the exact comparison then drops)."""
    f = np.float32(x)
    return f if float(f) <= x else np.nextafter(f, np.float32(-np.inf))


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


def _cxcywh_to_xyxy(b: np.ndarray) -> np.ndarray:
    cx, cy, w, h = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def _shapes(outputs: Sequence[np.ndarray]) -> str:
    return ", ".join(str(tuple(np.shape(o))) for o in outputs) or "none"


def _rows(o: np.ndarray) -> Optional[np.ndarray]:
    """(1, N, K) (or (N, K)) -> (N, K); None for other shapes."""
    if o.ndim == 2:
        o = o[None]
    return o[0] if o.ndim == 3 and o.shape[0] == 1 else None


def _box_rows(o: np.ndarray) -> Optional[np.ndarray]:
    """(1, N, 4), (1, N, 1, 4) (or (N, 4)) -> (N, 4); None for other shapes."""
    if o.ndim >= 2 and o.shape[-1] == 4 and o.shape[0] == 1:
        return o.reshape(-1, 4)
    return _rows(o) if o.ndim == 2 and o.shape[-1] == 4 else None


@dataclass
class Candidates:
    """Decoded before thresholding: boxes (N, 4) xyxy input px, scores (N, K) per class, or (N,) with
    class ids (N,) for already-classified layouts; mask coefficients (N, M) and protos (M, Hp, Wp)."""
    boxes: np.ndarray
    scores: np.ndarray
    class_ids: Optional[np.ndarray] = None
    coeffs: Optional[np.ndarray] = None
    protos: Optional[np.ndarray] = None


class Decoder:
    """Raw outputs of one layout -> detections in image pixels. ``output_names``: the model's output
    names in its order (for onnx.output_names and name hints); ``class_names`` default to the config's."""

    def __init__(self, config: OnnxConfig, class_names: Optional[Sequence[str]] = None,
                 output_names: Sequence[str] = ()):
        self.config = config
        self.layout = config.layout()
        self.class_names = list(class_names if class_names is not None else config.class_names)
        self.output_names = list(output_names)

    # ---------------------------------------------------------------- picking outputs by role

    def pick(self, outputs: Sequence[np.ndarray]) -> Dict[str, np.ndarray]:
        """The layout's outputs by role ("output", "protos", "boxes", "scores", "logits")."""
        outs = [np.asarray(o) for o in outputs]
        roles = _ROLES[self.layout]
        wanted = self.config.output_names
        if wanted:
            if len(self.output_names) != len(outs):
                raise InputError(_BAD, f"onnx.output_names {wanted} set, but the outputs have no names")
            missing = [n for n in wanted if n not in self.output_names]
            if missing:
                raise InputError(_BAD, f"onnx.output_names {missing} are not outputs of the model "
                                       f"(it has {self.output_names})")
            by_role = {r: outs[self.output_names.index(n)] for r, n in zip(roles, wanted)}
            if self.layout not in ("boxes_scores", "detr"):
                ranks = {"output": 3, "protos": 4}
                if any(v.ndim != ranks[r] or v.shape[0] != 1 for r, v in by_role.items()):
                    raise InputError(_BAD, f"{self.config.output_layout} needs detections (1, ...) of rank 3 "
                                           f"[and protos (1, M, Hp, Wp)]; onnx.output_names {wanted} are "
                                           f"{_shapes(list(by_role.values()))}")
                return by_role
            b, s = _box_rows(by_role["boxes"]), _rows(by_role[roles[1 - roles.index("boxes")]])
            if b is None or s is None or b.shape[0] != s.shape[0]:
                raise InputError(_BAD, f"{self.config.output_layout} needs boxes (1, N, 4) and (1, N, K); "
                                       f"onnx.output_names {wanted} are {_shapes(list(by_role.values()))}")
            return {"boxes": b, roles[1 - roles.index("boxes")]: s}
        names = self.output_names if len(self.output_names) == len(outs) else [""] * len(outs)
        if self.layout in ("boxes_scores", "detr"):
            other = "scores" if self.layout == "boxes_scores" else "logits"
            b, s = self._pair(outs, names, other)
            return {"boxes": b, other: s}
        picked = {"output": self._main(outs, names)}
        if self.layout in _SEG_LAYOUTS or self.layout == "yolo_end2end":
            protos = [o for o in outs if o.ndim == 4 and o.shape[0] == 1]
            if protos:
                picked["protos"] = protos[0]
            elif self.layout in _SEG_LAYOUTS:
                raise InputError(_BAD, f"{self.config.output_layout} needs mask protos (1, M, Hp, Wp) beside "
                                       f"its detections; the model gives {_shapes(outs)}")
        return picked

    def _main(self, outs: List[np.ndarray], names: List[str]) -> np.ndarray:
        rank3 = [i for i, o in enumerate(outs) if o.ndim == 3 and o.shape[0] == 1]
        if not rank3:
            raise InputError(_BAD, f"{self.config.output_layout} needs one (1, ...) detections output of rank 3; "
                                   f"the model gives {_shapes(outs)}")
        named = [i for i in rank3 if names[i] in ("output0", "output")]
        i = named[0] if named else max(rank3, key=lambda k: outs[k].size)
        return outs[i]

    def _pair(self, outs: List[np.ndarray], names: List[str], other: str) -> Tuple[np.ndarray, np.ndarray]:
        """(boxes (N, 4), per-box (N, K)) of a two-output layout: boxes are the output whose last axis is 4
        with as many rows as the other; names with "box" / "logit", "score" break ties, then the order."""
        pairs: List[Tuple[int, Tuple[np.ndarray, np.ndarray]]] = []
        for i, bo in enumerate(outs):
            b = _box_rows(bo)
            if b is None:
                continue
            for j, so in enumerate(outs):
                s = _rows(so) if j != i else None
                if s is None or s.shape[0] != b.shape[0]:
                    continue
                hint = ("box" in names[i].lower()) + any(h in names[j].lower() for h in ("logit", "score", "conf"))
                pairs.append((-hint, (b, s)))
        if not pairs:
            raise InputError(_BAD, f"{self.config.output_layout} needs boxes (1, N, 4) and {other} (1, N, K); "
                                   f"the model gives {_shapes(outs)}")
        pairs.sort(key=lambda p: p[0])      # stable: equal hints keep the model's order
        return pairs[0][1]

    # ---------------------------------------------------------------- class count and candidates

    def model_classes(self, picked: Dict[str, np.ndarray]) -> Optional[int]:
        """The class count the outputs imply (None: the layout gives class ids, not a class axis)."""
        lay = self.layout
        m = picked["protos"].shape[1] if "protos" in picked else 0
        if lay == "boxes_scores":
            return picked["scores"].shape[1] - int(self.config.background_class)
        if lay == "detr":
            return picked["logits"].shape[1] - 1
        out = picked["output"]
        if lay in ("yolov8", "yolov8_seg"):
            return out.shape[1] - 4 - m
        if lay in ("yolov5", "yolov5_seg"):
            return out.shape[2] - 5 - m
        return None

    def layout_hint(self, picked: Dict[str, np.ndarray]) -> str:
        """Where the outputs look like another YOLO layout: which one ("" otherwise)."""
        out = picked.get("output")
        if out is None or self.model_classes(picked) == len(self.class_names):
            return ""
        n, m = len(self.class_names), (picked["protos"].shape[1] if "protos" in picked else 0)
        if self.layout.startswith("yolov8") and out.shape[2] == 5 + n + m:
            return "it looks like a yolov5 head (1, N, 5 + C): try output_layout yolov5"
        if self.layout.startswith("yolov5") and out.shape[1] == 4 + n + m:
            return "it looks like a yolov8 head (1, 4 + C, N): try output_layout yolov8"
        if self.layout in ("yolov8", "yolov5") and self.model_classes(picked) == n + 32:
            return f"32 too many: a segmentation head? try output_layout {self.layout}_seg"
        return ""

    def _shape_error(self, picked: Dict[str, np.ndarray], expected: str) -> InputError:
        hint = self.layout_hint(picked)
        got = ", ".join(f"{k} {tuple(v.shape)}" for k, v in picked.items())
        return InputError(_BAD, f"{self.config.output_layout} output {got}, expected {expected} with "
                                f"{len(self.class_names)} classes{'; ' + hint if hint else ''}")

    def candidates(self, picked: Dict[str, np.ndarray], input_wh: Tuple[int, int]) -> Candidates:
        cfg, lay, n_cls = self.config, self.layout, len(self.class_names)
        protos = picked.get("protos")
        m = 0 if protos is None else protos.shape[1]
        proto_arr = None if protos is None else protos[0]
        if lay in ("yolov8", "yolov8_seg"):
            raw = picked["output"][0]
            if raw.shape[0] != 4 + n_cls + m:
                raise self._shape_error(picked, f"(1, 4 + {n_cls}{f' + {m}' if m else ''}, N)")
            return Candidates(_cxcywh_to_xyxy(raw[:4].T), raw[4:4 + n_cls].T,
                              coeffs=raw[4 + n_cls:].T if m else None, protos=proto_arr)
        if lay in ("yolov5", "yolov5_seg"):
            raw = picked["output"][0]
            if raw.shape[1] != 5 + n_cls + m:
                raise self._shape_error(picked, f"(1, N, 5 + {n_cls}{f' + {m}' if m else ''})")
            scores = raw[:, 5:5 + n_cls] * raw[:, 4:5]
            return Candidates(_cxcywh_to_xyxy(raw[:, :4]), scores,
                              coeffs=raw[:, 5 + n_cls:] if m else None, protos=proto_arr)
        if lay == "yolo_end2end":
            raw = picked["output"][0]
            if raw.shape[1] != 6 + m:
                raise self._shape_error(picked, f"(1, N, 6{f' + {m}' if m else ''})")
            ids = np.rint(raw[:, 5]).astype(np.int64)
            if ids.size and (ids.min() < 0 or ids.max() >= n_cls):
                raise InputError(_BAD, f"yolo_end2end class ids {ids.min()}..{ids.max()} outside the "
                                       f"{n_cls} class names")
            return Candidates(raw[:, :4], raw[:, 4], class_ids=ids,
                              coeffs=raw[:, 6:] if m else None, protos=proto_arr)
        w_in, h_in = input_wh
        if lay == "detr":
            logits, boxes = picked["logits"], picked["boxes"]
            if logits.shape[1] != n_cls + 1:
                raise self._shape_error(picked, f"logits (1, Q, {n_cls} + 1 no-object)")
            z = logits.astype(np.float64)
            e = np.exp(z - z.max(axis=1, keepdims=True))
            prob = e / e.sum(axis=1, keepdims=True)
            xyxy = _cxcywh_to_xyxy(boxes.astype(np.float64)) * np.array([w_in, h_in, w_in, h_in])
            return Candidates(xyxy, prob[:, :n_cls])
        boxes, scores = picked["boxes"].astype(np.float64), picked["scores"]
        skip = int(cfg.background_class)
        if scores.shape[1] != n_cls + skip:
            raise self._shape_error(picked, f"boxes (1, N, 4) and scores (1, N, {n_cls}"
                                            f"{' + 1 background' if skip else ''})")
        if cfg.box_format == "yxyx":
            boxes = boxes[:, [1, 0, 3, 2]]
        elif cfg.box_format == "cxcywh":
            boxes = _cxcywh_to_xyxy(boxes)
        if cfg.boxes_normalized:
            boxes = boxes * np.array([w_in, h_in, w_in, h_in])
        return Candidates(boxes, scores[:, skip:])

    # ---------------------------------------------------------------- detections

    def decode(self, outputs: Sequence[np.ndarray], geo: Geometry) -> List[Detection2D]:
        """Raw model outputs -> thresholded, (NMS-filtered) detections in image pixels."""
        cfg = self.config
        c = self.candidates(self.pick(outputs), (geo.input_w, geo.input_h))
        boxes = np.asarray(c.boxes, np.float64)
        if c.class_ids is None:
            # candidates with any class score at or above a float32 bound just under the threshold (one
            # float32 pass over all scores; a superset), then on those few the best score (the one at the
            # argmax) against the threshold in float64, the class and the box checks
            scores = np.asarray(c.scores)
            cand = np.flatnonzero((scores >= _f32_floor(cfg.score_threshold)).any(axis=1)) \
                if scores.shape[0] else np.zeros(0, np.int64)
            top = scores[cand].max(axis=1).astype(np.float64) if cand.size else np.zeros(0)
            keep_s = top >= cfg.score_threshold
            idx, top = cand[keep_s], top[keep_s]
        else:
            top = np.asarray(c.scores, np.float64)
            idx = np.flatnonzero(top >= cfg.score_threshold)
            top = top[idx]
        b = boxes[idx]
        good = np.all(np.isfinite(b), axis=1) & (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
        idx, boxes, best = idx[good], b[good], top[good]
        if c.class_ids is None:
            cls_idx = np.argmax(scores[idx], axis=1) if idx.size else np.zeros(0, np.int64)
        else:
            cls_idx = c.class_ids[idx]
        if not best.size:
            return []
        if self.layout not in _NMS_LAYOUTS:
            keep = np.argsort(-best, kind="stable")[:cfg.max_detections]
        elif cfg.class_agnostic_nms:
            keep = nms(boxes, best, cfg.nms_iou_threshold, cfg.max_detections)
        else:
            # offset boxes per class so boxes of different classes never overlap (one NMS pass)
            offset = (cls_idx.astype(np.float64) * (boxes.max() + 1.0))[:, None]
            keep = nms(boxes + offset, best, cfg.nms_iou_threshold, cfg.max_detections)
        w, h = geo.image_w, geo.image_h
        img_boxes = geo.to_image(boxes[keep])
        img_boxes[:, 0::2] = np.clip(img_boxes[:, 0::2], 0, w)
        img_boxes[:, 1::2] = np.clip(img_boxes[:, 1::2], 0, h)
        logit_thr = math.log(cfg.mask_threshold / (1.0 - cfg.mask_threshold))
        out: List[Detection2D] = []
        for k, i in enumerate(keep):
            box = tuple(float(v) for v in img_boxes[k])
            if box[2] - box[0] < 1.0 or box[3] - box[1] < 1.0:
                continue
            mask = None
            if c.coeffs is not None and c.protos is not None:
                mask = box_mask(np.asarray(c.coeffs[idx[i]], np.float32), c.protos, box, geo, logit_thr)
            out.append(Detection2D(class_name=self.class_names[int(cls_idx[i])], score=float(best[i]),
                                   mask=mask, box_xyxy=(box[0], box[1], box[2], box[3])))
        return out


def box_mask(coeffs: np.ndarray, protos: np.ndarray, box: Tuple[float, ...], geo: Geometry,
             logit_threshold: float) -> np.ndarray:
    """(H, W) bool mask of one detection: coefficients (M,) . protos (M, Hp, Wp), bilinear at the centre of
    each image pixel inside ``box`` (image px; proto pixel j spans input px [j, j + 1) * W_in / Wp), above
    ``logit_threshold`` (= sigmoid above the mask threshold). Only the box's proto window is computed."""
    m, hp, wp = protos.shape
    mask = np.zeros((geo.image_h, geo.image_w), bool)
    c0, c1 = int(np.ceil(box[0] - 0.5)), int(np.ceil(box[2] - 0.5))     # pixel centres in [x1, x2)
    r0, r1 = int(np.ceil(box[1] - 0.5)), int(np.ceil(box[3] - 0.5))
    c0, r0, c1, r1 = max(c0, 0), max(r0, 0), min(c1, geo.image_w), min(r1, geo.image_h)
    if c1 <= c0 or r1 <= r0:
        return mask
    xp = ((np.arange(c0, c1) + 0.5) * geo.scale_x + geo.pad_x) * (wp / geo.input_w) - 0.5
    yp = ((np.arange(r0, r1) + 0.5) * geo.scale_y + geo.pad_y) * (hp / geo.input_h) - 0.5
    x0 = np.floor(xp).astype(np.int64)
    y0 = np.floor(yp).astype(np.int64)
    wx, wy = (xp - x0).astype(np.float32), (yp - y0).astype(np.float32)
    xa, xb = np.clip(x0, 0, wp - 1), np.clip(x0 + 1, 0, wp - 1)
    ya, yb = np.clip(y0, 0, hp - 1), np.clip(y0 + 1, 0, hp - 1)
    j0, j1, i0, i1 = int(xa.min()), int(xb.max()) + 1, int(ya.min()), int(yb.max()) + 1
    logits = np.tensordot(coeffs, protos[:, i0:i1, j0:j1].astype(np.float32), axes=1)   # (rows, cols)
    xa, xb, ya, yb = xa - j0, xb - j0, ya - i0, yb - i0
    top = logits[ya][:, xa] * (1 - wx) + logits[ya][:, xb] * wx
    bot = logits[yb][:, xa] * (1 - wx) + logits[yb][:, xb] * wx
    val = top * (1 - wy)[:, None] + bot * wy[:, None]
    mask[r0:r1, c0:c1] = val > logit_threshold
    return mask


def decode(outputs: Sequence[np.ndarray], config: OnnxConfig, image_wh: Tuple[int, int]) -> List[Detection2D]:
    """Raw model outputs of an image of ``image_wh`` -> detections, with the config's class names and the
    preprocessing ``OnnxDetector`` uses for a model of input ``config.input_width x input_height``."""
    geo = plan_geometry(image_wh, (config.input_width, config.input_height), config.resize_mode(),
                        config.letterbox_stride)
    return Decoder(config).decode(outputs, geo)


def detection_agreement(reference: Sequence[Detection2D], other: Sequence[Detection2D],
                        iou_threshold: float = 0.5, clear_score: float = 0.5) -> Dict[str, float]:
    """How far ``other`` (e.g. the INT8 model's detections) reproduces ``reference`` (the float model's) on
    one image: greedy one-to-one matching, highest reference score first, of boxes of the same class with
    IoU >= ``iou_threshold``. Counts ``float`` (reference), ``int8`` (other), ``matched`` and ``iou_sum``
    (of the matched pairs); recall = matched / float, precision = matched / int8. ``float_clear`` and
    ``matched_clear``: the same for reference detections scored >= ``clear_score`` (clear of the threshold,
    where a score shift of a few hundredths decides nothing)."""
    used = np.zeros(len(other), bool)
    boxes = np.asarray([d.box_xyxy for d in other], np.float64).reshape(-1, 4)
    classes = np.asarray([d.class_name for d in other], object)
    matched = matched_clear = 0
    iou_sum = 0.0
    for d in sorted(reference, key=lambda d: -d.score):
        if d.box_xyxy is None or not len(other):
            continue
        iou = iou_one_to_many(np.asarray(d.box_xyxy, np.float64), boxes)
        iou[used | (classes != d.class_name)] = -1.0
        k = int(np.argmax(iou))
        if iou[k] >= iou_threshold:
            used[k] = True
            matched += 1
            matched_clear += d.score >= clear_score
            iou_sum += float(iou[k])
    return {"float": len(reference), "int8": len(other), "matched": matched, "iou_sum": iou_sum,
            "float_clear": sum(d.score >= clear_score for d in reference), "matched_clear": matched_clear}


def choose_providers(wanted: Sequence[str], available: Sequence[str]) -> List[str]:
    """The configured providers that this onnxruntime has, in order, always ending with the CPU one."""
    chosen = [p for p in wanted if p in available]
    if "CPUExecutionProvider" not in chosen:
        chosen.append("CPUExecutionProvider")
    return chosen


def provider_options(config: OnnxConfig, provider: str) -> Dict[str, str]:
    """onnxruntime's options for one execution provider (strings, as its Python API passes them on).
    TensorRT: FP16 (``trt_fp16``), engines and timing cache kept in ``engine_cache_dir()`` so only the first
    start builds the engine, the builder's workspace; CUDA: the device and an arena that grows only by
    what is asked (a Jetson shares its RAM with the GPU); others: none."""
    dev = str(config.device_id)
    if provider == "TensorrtExecutionProvider":
        opts = {"device_id": dev, "trt_fp16_enable": str(bool(config.trt_fp16)),
                "trt_max_workspace_size": str(config.trt_max_workspace_mb * 1024 * 1024)}
        if config.trt_engine_cache:
            cache = config.engine_cache_dir()
            opts.update(trt_engine_cache_enable="True", trt_engine_cache_path=cache,
                        trt_timing_cache_enable="True", trt_timing_cache_path=cache)
        return opts
    if provider == "CUDAExecutionProvider":
        return {"device_id": dev, "arena_extend_strategy": "kSameAsRequested"}
    return {}


_CPU = "CPUExecutionProvider"


def choose_cpu_model(config: OnnxConfig) -> Tuple[str, str, str]:
    """The model the CPU provider runs under ``onnx.cpu_precision``: (path, "int8" | "float", warning).
    auto: the INT8 twin (``config.int8_model_path()``) when it is there, else the float model, with a
    warning when the model is the default detector (scripts/setup.sh makes its twin; another model simply
    has none); int8: the twin, a ConfigError when it is missing; float: the float model."""
    twin = config.int8_model_path()
    if config.cpu_precision == "float" or not twin:
        return config.model_path, "float", ""
    if os.path.isfile(twin):
        return twin, "int8", ""
    if config.cpu_precision == "int8":
        raise ConfigError(f"onnx.cpu_precision is int8 but {twin} is missing: run scripts/setup.sh (or "
                          f"`python scripts/quantize_detector.py`), or set onnx.cpu_precision: auto | float")
    if os.path.basename(config.model_path) != DEFAULT_DETECTOR.file:
        return config.model_path, "float", ""
    return config.model_path, "float", (
        f"detector runs its float model on the CPU: the INT8 model {twin} is missing (about 2x faster on one "
        f"core); run scripts/setup.sh (or `python scripts/quantize_detector.py`) to make it, or set "
        f"onnx.cpu_precision: float to run the float model on purpose")


def provider_warning(wanted: Sequence[str], available: Sequence[str], used: Sequence[str]) -> str:
    """One line when an accelerated provider was asked for and another one runs (the CPU, or CUDA in place
    of TensorRT): what was asked, what this onnxruntime has, what runs and how to fix it; "" otherwise."""
    fast = [p for p in wanted if p != "CPUExecutionProvider"]
    running = used[0] if used else "CPUExecutionProvider"
    if not fast or running == fast[0]:
        return ""
    missing = [p for p in fast if p not in available]
    if running == "CPUExecutionProvider" and len(missing) == len(fast):
        fix = ("install the onnxruntime-gpu built for this machine in place of onnxruntime (Jetson, JetPack 6: "
               "from NVIDIA's Jetson AI Lab pip index; x86 with CUDA 12: pip install onnxruntime-gpu; see "
               "docker/README.md), or set onnx.providers: [CPUExecutionProvider] to run on the CPU on purpose")
    else:
        fix = ("this onnxruntime has it but could not start it: its CUDA / cuDNN / TensorRT libraries are "
               "missing or of another version (onnxruntime's own error above names the library); check "
               "LD_LIBRARY_PATH, or drop it from onnx.providers")
    return (f"detector asked for onnx.providers {list(wanted)} but runs on {running}; this onnxruntime has "
            f"{list(available)}" + (f" (no {', '.join(missing)})" if missing else "") + f". Fix: {fix}")


_INPUT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(uint8)": np.uint8}
_MASK_TYPES = {"tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(bool)": np.bool_,
               "tensor(float)": np.float32}


class OnnxDetector:
    """Runs an ONNX detector; ``providers`` shows what onnxruntime actually uses (``provider``: the first,
    ``provider_warning``: why it is not the one asked for, "" when it is), ``class_names`` and ``input_wh``
    what the model was found to take."""

    def __init__(self, config: OnnxConfig):
        config.validate()
        if not config.model_path:
            raise ConfigError("onnx.model_path is empty")
        import onnxruntime as ort

        self.config = config
        opts = ort.SessionOptions()
        if config.intra_op_threads:
            opts.intra_op_num_threads = config.intra_op_threads
        opts.inter_op_num_threads = 1
        available = list(ort.get_available_providers())
        providers = choose_providers(config.providers, available)
        self.provider_options = {p: provider_options(config, p) for p in providers}
        if "TensorrtExecutionProvider" in providers and config.trt_engine_cache:
            os.makedirs(config.engine_cache_dir(), exist_ok=True)
        # the CPU provider runs the INT8 twin of the model where onnx.cpu_precision lets it (choose_cpu_model);
        # GPU providers the float model
        cpu_only = providers[0] == _CPU
        self.model_path, self.precision, int8_note = (choose_cpu_model(config) if cpu_only
                                                      else (config.model_path, "float", ""))

        def load(path: str, provs: List[str]) -> Any:
            try:
                return ort.InferenceSession(path, sess_options=opts, providers=provs,
                                            provider_options=[self.provider_options[p] for p in provs])
            except Exception as e:  # onnxruntime raises its own types for a missing/corrupt model
                raise ConfigError(f"cannot load ONNX model {path!r}: {e}") from e

        self._session = load(self.model_path, providers)
        ort_providers = list(self._session.get_providers())
        if not cpu_only and ort_providers[:1] == [_CPU]:      # a GPU provider was there but could not start
            path, precision, int8_note = choose_cpu_model(config)
            if precision == "int8":
                self._session = load(path, [_CPU])
                self.model_path, self.precision = path, precision
        # what runs (onnxruntime drops a provider it cannot start): the node logs ``provider`` at start-up
        # and ``provider_warning`` as a warning when it is not the one asked for; ``ort_providers`` are
        # onnxruntime's names, ``providers`` the same with "(int8)" on the CPU one when the INT8 model runs
        self.ort_providers = ort_providers
        self.providers = [p + "(int8)" if p == _CPU and self.precision == "int8" else p for p in ort_providers]
        self.provider = self.providers[0] if self.providers else _CPU
        self.provider_warning = "; ".join(w for w in (provider_warning(config.providers, available, ort_providers),
                                                      int8_note) if w)
        inputs = self._session.get_inputs()
        inp = next((i for i in inputs if len(i.shape) == 4), inputs[0])
        self._input_name = inp.name
        # other inputs: a padding mask (Hugging Face DETR exports take pixel_mask (1, H, W)) is all ones
        self._mask_inputs = [(i.name, _MASK_TYPES.get(i.type, np.int64)) for i in inputs if i is not inp]
        others = [n for n, _ in self._mask_inputs if "mask" not in n.lower()]
        if others:
            raise ConfigError(f"ONNX model {config.model_path!r} takes inputs {others} beside the image "
                              f"{inp.name!r}; only an image and a pixel mask are fed")
        shape = list(inp.shape) + [None] * (4 - len(inp.shape))
        self._nhwc = shape[3] == 3 and shape[1] != 3
        hw = (shape[1], shape[2]) if self._nhwc else (shape[2], shape[3])
        self._fixed = all(isinstance(d, int) and d > 0 for d in hw)
        self.input_wh = (int(hw[1]), int(hw[0])) if self._fixed else (config.input_width, config.input_height)
        self._dtype = _INPUT_TYPES.get(inp.type, np.float32)
        meta = dict(self._session.get_modelmeta().custom_metadata_map or {})
        self.class_names, source = self._class_names(meta)
        self.output_names = [o.name for o in self._session.get_outputs()]
        self.decoder = Decoder(config, self.class_names, self.output_names)
        self._check_outputs(source)

    def _class_names(self, meta: Dict[str, str]) -> Tuple[List[str], str]:
        cfg = self.config
        if cfg.class_names_file:
            return load_class_names(cfg.class_names_file, cfg.model_path), \
                f"onnx.class_names_file {cfg.class_names_file!r}"
        if cfg.class_names:
            return list(cfg.class_names), "onnx.class_names"
        names = metadata_class_names(meta)
        if not names:
            raise ConfigError("onnx.class_names is empty: set onnx.class_names or onnx.class_names_file "
                              "(the model's metadata has no names)")
        return names, "the model's metadata names"

    def _check_outputs(self, source: str) -> None:
        """One blank frame through the model: outputs that fit no layout, or a class count other than the
        names', fail now, at load."""
        cfg = self.config
        if cfg.output_names:
            missing = [n for n in cfg.output_names if n not in self.output_names]
            roles = _ROLES[cfg.layout()]
            if missing or not (len(cfg.output_names) == len(roles)
                               or (cfg.layout() == "yolo_end2end" and len(cfg.output_names) == 1)):
                raise ConfigError(f"onnx.output_names {cfg.output_names}: the {cfg.output_layout} layout takes "
                                  f"{list(roles)}; the model's outputs are {self.output_names}")
        w, h = self.input_wh
        blank = np.full((h, w, 3), cfg.letterbox_pad_value, np.uint8)
        outputs = self._run(self._blob(blank)[0])
        where = f"ONNX model {cfg.model_path!r}"
        try:
            picked = self.decoder.pick(outputs)
        except InputError as e:
            raise ConfigError(f"{where}: {e.detail}") from e
        n_model = self.decoder.model_classes(picked)
        if cfg.background_class and n_model is not None and len(self.class_names) == n_model + 1:
            # SSD tools' label files name the background first (pytorch-ssd's labels.txt: BACKGROUND)
            self.class_names = self.class_names[1:]
            self.decoder = Decoder(cfg, self.class_names, self.output_names)
        if n_model is not None and n_model != len(self.class_names) and not self.decoder.layout_hint(picked):
            got = ", ".join(f"{k} {tuple(v.shape)}" for k, v in picked.items())
            raise ConfigError(f"{where}: {source} has {len(self.class_names)} class names but the model's "
                              f"{cfg.output_layout} outputs ({got}) have {n_model} classes; give the model's "
                              f"own names (onnx.class_names_file) or check onnx.output_layout")
        try:
            self.decoder.candidates(picked, self.input_wh)
        except InputError as e:
            raise ConfigError(f"{where}: {e.detail}") from e

    def _blob(self, rgb: np.ndarray) -> Tuple[np.ndarray, Geometry]:
        cfg = self.config
        h, w = rgb.shape[:2]
        geo = plan_geometry((w, h), self.input_wh, cfg.resize_mode(), cfg.letterbox_stride, self._fixed)
        return preprocess(rgb, geo, cfg, self._nhwc, self._dtype), geo

    def _run(self, blob: np.ndarray) -> List[np.ndarray]:
        feed = {self._input_name: blob}
        h, w = blob.shape[1:3] if self._nhwc else blob.shape[2:4]
        for name, dtype in self._mask_inputs:
            feed[name] = np.ones((1, h, w), dtype)
        return list(self._session.run(None, feed))

    def detect(self, frame: RGBDFrame) -> List[Detection2D]:
        blob, geo = self._blob(frame.rgb)
        return self.decoder.decode(self._run(blob), geo)
