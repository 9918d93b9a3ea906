"""The ONNX detector on each output layout the common export tools produce (YOLOv5/v8/11 detection and
segmentation, end-to-end YOLO, SSD-style boxes + scores, DETR): a tiny torch model per layout returns fixed,
hand-designed tensors (plus 0 * its input, so the graph reads the input), exported with torch.onnx (opset
17); OnnxDetector's boxes, classes, scores and masks are checked against numbers worked out by hand here,
letterbox undo included. Also: the preprocessing, class-name files, and bad outputs."""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import pytest

from memory_nodes.common.errors import ConfigError, InputError
from memory_nodes.common.types import CameraIntrinsics, RGBDFrame
from memory_nodes.perception.config import OnnxConfig
from memory_nodes.perception.onnx_detector import (
    OnnxDetector,
    decode,
    load_class_names,
    plan_geometry,
    preprocess,
)


def export(path: Path, outputs: Dict[str, np.ndarray], in_hw=(64, 64), dynamic: bool = False,
           metadata: Optional[Dict[str, str]] = None, pixel_mask: bool = False) -> str:
    """An ONNX model with one input "images" (1, 3, H, W) (and "pixel_mask" (1, H, W) int64, as Hugging
    Face DETR exports have) whose outputs are ``outputs`` (name -> array)."""
    import torch  # installed by scripts/setup.sh (CPU)

    arrays = [np.ascontiguousarray(a, np.float32) for a in outputs.values()]

    class Fixed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            for i, a in enumerate(arrays):
                self.register_buffer(f"out{i}", torch.from_numpy(a))

        def forward(self, image, mask=None):
            z = image.mean() * 0.0
            if mask is not None:
                z = z + (mask.sum() * 0).float()
            outs = tuple(getattr(self, f"out{i}") + z for i in range(len(arrays)))
            return outs[0] if len(outs) == 1 else outs

    axes = {"images": {2: "height", 3: "width"}} if dynamic else None
    args = (torch.zeros(1, 3, *in_hw),) + ((torch.ones(1, *in_hw, dtype=torch.int64),) if pixel_mask else ())
    with warnings.catch_warnings():   # the TorchScript exporter needs no onnxscript; it warns it is legacy
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(Fixed().eval(), args, str(path), input_names=["images", "pixel_mask"][:len(args)],
                          output_names=list(outputs), opset_version=17, dynamo=False, dynamic_axes=axes)
    if metadata:
        import onnx
        model = onnx.load(str(path))
        for k, v in metadata.items():
            entry = model.metadata_props.add()
            entry.key, entry.value = k, v
        onnx.save(model, str(path))
    return str(path)


def config(path: str, layout: str, names, **kw) -> OnnxConfig:
    base = dict(model_path=path, output_layout=layout, class_names=list(names),
                providers=["CPUExecutionProvider"], score_threshold=0.4)
    base.update(kw)
    return OnnxConfig(**base)


def frame(w: int, h: int) -> RGBDFrame:
    rgb = np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)
    return RGBDFrame(0, rgb, np.full((h, w), 2.0, np.float32), CameraIntrinsics(w, h, 100.0, 100.0, w / 2, h / 2))


# The letterbox of a 100 x 70 image into a 64 x 64 input (ultralytics' LetterBox): scale min(64/100, 64/70)
# = 0.64 -> 64 x 44.8, rounded 64 x 45; pad 19 rows split 9 above (round(9.5 - 0.1)), 10 below. Undone:
def lb_x(x_in: float) -> float:
    return x_in * 100.0 / 64.0


def lb_y(y_in: float) -> float:
    return (y_in - 9.0) * 70.0 / 45.0


YOLO_NAMES = ["cup", "chair", "book"]


def yolov8_output() -> np.ndarray:
    """(1, 4 + 3, 5): columns are candidates cx, cy, w, h (input px), then 3 class scores."""
    cols = [(32, 30, 20, 10, 0.1, 0.9, 0.0),     # chair 0.9
            (33, 30, 20, 10, 0.1, 0.8, 0.0),     # its duplicate (IoU 0.9): suppressed
            (20, 40, 8, 8, 0.0, 0.0, 0.35),      # book below the 0.4 threshold
            (50, 20, 10, 16, 0.6, 0.0, 0.2),     # cup 0.6
            (10, 10, 0, 5, 0.0, 0.0, 0.95)]      # zero width: dropped
    return np.array(cols, np.float32).T[None]


@pytest.fixture(scope="module")
def yolov8_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("yolov8")
    (folder / "data.yaml").write_text("path: ../datasets\nnames:\n  0: cup\n  1: chair\n  2: book\n")
    return export(folder / "yolov8n.onnx", {"output0": yolov8_output()},
                  metadata={"names": "{0: 'cup', 1: 'chair', 2: 'book'}", "stride": "32", "task": "detect"})


@pytest.mark.parametrize("layout, resize", [("yolov8", "auto"), ("yolo11", "auto"), ("yolo", "letterbox")])
def test_yolov8_letterbox_is_undone_exactly(yolov8_model, layout, resize):
    det = OnnxDetector(config(yolov8_model, layout, [], class_names_file="data.yaml", resize=resize))
    assert det.input_wh == (64, 64)                    # the model's fixed size, not input_width/height
    dets = det.detect(frame(100, 70))
    assert [(d.class_name, round(d.score, 4)) for d in dets] == [("chair", 0.9), ("cup", 0.6)]
    # chair: cx, cy, w, h (32, 30, 20, 10) -> input xyxy (22, 25, 42, 35)
    assert np.allclose(dets[0].box_xyxy, (lb_x(22), lb_y(25), lb_x(42), lb_y(35)), atol=1e-4)
    assert np.allclose(dets[0].box_xyxy, (34.375, 24.8889, 65.625, 40.4444), atol=1e-4)
    assert np.allclose(dets[1].box_xyxy, (lb_x(45), lb_y(12), lb_x(55), lb_y(28)), atol=1e-4)
    assert all(d.mask is None for d in dets)


def test_old_yolo_name_keeps_the_plain_resize_and_names_come_from_metadata(yolov8_model):
    det = OnnxDetector(config(yolov8_model, "yolo", []))   # no names configured: ultralytics' metadata
    assert det.class_names == YOLO_NAMES
    dets = det.detect(frame(100, 70))
    sx, sy = 100 / 64, 70 / 64
    assert np.allclose(dets[0].box_xyxy, (22 * sx, 25 * sy, 42 * sx, 35 * sy), atol=1e-4)


# ---------------------------------------------------------------------------- segmentation heads
# protos (1, 4, 16, 16), one proto pixel = 4 x 4 input px:
#   0: +8 on proto columns 3..8, -8 elsewhere  -> bilinear crosses 0 at proto edges 3 and 9 = input x 12, 36
#   1: +8 everywhere                           -> the whole box
#   2: +8 on proto rows 5..10, -8 elsewhere    -> input y 20, 44
#   3: noise (its coefficient is 0)
def protos() -> np.ndarray:
    p = np.full((1, 4, 16, 16), -8.0, np.float32)
    p[0, 0, :, 3:9] = 8.0
    p[0, 1] = 8.0
    p[0, 2, 5:11, :] = 8.0
    p[0, 3] = np.random.default_rng(1).normal(0, 5, (16, 16))
    return p


# (box cx, cy, w, h in input px, class scores of ["cup", "chair"], mask coefficients)
SEG_ROWS = [((19, 32, 22, 36), (0.9, 0.1), (1, 0, 0, 0)),         # A: input x 8..30, y 14..50, band 0
            ((50, 20.25, 18, 14.5), (0.2, 0.8), (0, 1, 0, 0)),    # B: input x 41..59, y 13..27.5, whole
            ((52, 34, 16, 52), (0.7, 0.0), (0, 0, 1, 0)),         # D: input x 44..60, y 8..60, band 2
            ((30, 30, 10, 10), (0.1, 0.1), (1, 1, 1, 1))]         # below the threshold


def expected_seg_masks():
    """By hand, image px of the 100 x 70 frame: a pixel is in a mask when its centre (u + 0.5, v + 0.5)
    lies inside the box and, for A and D, inside the band mapped back through the letterbox."""
    a = np.zeros((70, 100), bool)
    # A: band x_in in (12, 36) -> u + 0.5 in (18.75, 56.25); box x [12.5, 46.875), y [7.78, 63.78)
    a[8:64, 19:47] = True
    b = np.zeros((70, 100), bool)
    # B: box x [64.06, 92.19), y [6.22, 28.78)
    b[6:29, 64:92] = True
    d = np.zeros((70, 100), bool)
    # D: band y_in in (20, 44) -> v + 0.5 in (17.11, 54.44); box x [68.75, 93.75), y clipped [0, 70)
    d[17:54, 69:94] = True
    return a, b, d


@pytest.mark.parametrize("layout", ["yolov8_seg", "yolo11_seg", "yolov5_seg"])
def test_segmentation_masks_are_cropped_to_the_box_and_upsampled_to_the_image(tmp_path, layout):
    if layout == "yolov5_seg":     # (1, N, 5 + C + M): objectness 1, so the score is the class score
        rows = [(*b, 1.0, *s, *c) for b, s, c in SEG_ROWS]
        out = np.array(rows, np.float32)[None]
    else:                          # (1, 4 + C + M, N)
        out = np.array([(*b, *s, *c) for b, s, c in SEG_ROWS], np.float32).T[None]
    path = export(tmp_path / "seg.onnx", {"output0": out, "output1": protos()})
    dets = OnnxDetector(config(path, layout, ["cup", "chair"])).detect(frame(100, 70))
    assert [(d.class_name, round(d.score, 4)) for d in dets] == [("cup", 0.9), ("chair", 0.8), ("cup", 0.7)]
    assert np.allclose(dets[0].box_xyxy, (lb_x(8), lb_y(14), lb_x(30), lb_y(50)), atol=1e-4)
    assert np.allclose(dets[2].box_xyxy, (lb_x(44), 0.0, lb_x(60), 70.0), atol=1e-4)   # clipped to the image
    for d, want in zip(dets, expected_seg_masks()):
        assert d.mask is not None and d.mask.shape == (70, 100)
        assert np.array_equal(d.mask, want), (d.class_name, np.argwhere(d.mask != want)[:5])


# ---------------------------------------------------------------------------- yolov5, dynamic input


def test_yolov5_objectness_times_class_on_a_dynamic_input(tmp_path):
    rows = [(30, 16, 20, 10, 0.9, 0.2, 0.8),     # chair 0.9 * 0.8 = 0.72
            (31, 16, 20, 10, 0.85, 0.1, 0.8),    # chair 0.68, IoU 190 / 210 with the first: suppressed
            (10, 8, 6, 6, 0.5, 0.9, 0.1),        # cup 0.45
            (50, 20, 8, 8, 0.3, 1.0, 0.0)]       # cup 0.3 (class 1.0 but objectness 0.3): dropped
    path = export(tmp_path / "yolov5s.onnx", {"output0": np.array(rows, np.float32)[None]}, dynamic=True)
    det = OnnxDetector(config(path, "yolov5", ["cup", "chair"], input_width=64, input_height=64))
    dets = det.detect(frame(120, 60))
    # dynamic input: 120 x 60 fits 64 x 64 at 0.5333 -> 64 x 32, padded to a multiple of 32 -> no pad
    assert [(d.class_name, round(d.score, 4)) for d in dets] == [("chair", 0.72), ("cup", 0.45)]
    assert np.allclose(dets[0].box_xyxy, (20 * 120 / 64, 11 * 60 / 32, 40 * 120 / 64, 21 * 60 / 32), atol=1e-4)
    assert np.allclose(dets[1].box_xyxy, (7 * 120 / 64, 5 * 60 / 32, 13 * 120 / 64, 11 * 60 / 32), atol=1e-4)


def test_end_to_end_yolo_needs_no_nms(tmp_path):
    rows = np.zeros((6, 6), np.float32)               # padded to a fixed count with zero rows, as exported
    rows[0] = (22, 25, 42, 35, 0.8, 1)                # chair
    rows[1] = (23, 25, 43, 35, 0.9, 1)                # overlaps it: kept (the model already suppressed)
    rows[2] = (45, 12, 55, 28, 0.3, 0)                # below the threshold
    path = export(tmp_path / "yolo26n.onnx", {"output0": rows[None]})
    dets = OnnxDetector(config(path, "yolo26", YOLO_NAMES)).detect(frame(100, 70))
    assert [(d.class_name, round(d.score, 4)) for d in dets] == [("chair", 0.9), ("chair", 0.8)]
    assert np.allclose(dets[0].box_xyxy, (lb_x(23), lb_y(25), lb_x(43), lb_y(35)), atol=1e-4)


# ---------------------------------------------------------------------------- SSD-style boxes + scores

# one box, input-normalized xyxy (0.25, 0.5, 0.5, 0.75) of a 64 x 48 input = (16, 24, 32, 36) input px,
# and a second (0.6, 0.1, 0.9, 0.3); a 128 x 96 image is resized (not letterboxed) by 2
BOX_N = [(0.25, 0.5, 0.5, 0.75), (0.6, 0.1, 0.9, 0.3), (0.6, 0.1, 0.9, 0.3)]
ENCODE = {"xyxy": lambda b: b, "yxyx": lambda b: (b[1], b[0], b[3], b[2]),
          "cxcywh": lambda b: ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2, b[2] - b[0], b[3] - b[1])}


@pytest.mark.parametrize("box_format", ["xyxy", "yxyx", "cxcywh"])
@pytest.mark.parametrize("normalized", [True, False])
def test_ssd_boxes_formats_and_background(tmp_path, box_format, normalized):
    scale = np.ones(4) if normalized else np.array([64, 48, 64, 48])
    px = [np.asarray(ENCODE[box_format](b)) * (scale if box_format != "yxyx" else scale[[1, 0, 3, 2]])
          for b in BOX_N]
    boxes = np.array(px, np.float32)[None, :, None, :]                  # (1, N, 1, 4) as TF exports do
    scores = np.array([[0.05, 0.9, 0.05],        # person 0.9
                       [0.9, 0.02, 0.03],        # background: nothing above the threshold
                       [0.3, 0.1, 0.6]], np.float32)[None]              # mug 0.6
    path = export(tmp_path / "ssd.onnx", {"detection_scores": scores, "detection_boxes": boxes}, in_hw=(48, 64))
    cfg = config(path, "ssd", ["person", "mug"], box_format=box_format, boxes_normalized=normalized,
                 background_class=True)
    dets = OnnxDetector(cfg).detect(frame(128, 96))
    assert [(d.class_name, round(d.score, 4)) for d in dets] == [("person", 0.9), ("mug", 0.6)]
    # a labels file that names the background first (pytorch-ssd's labels.txt) fits as well
    (tmp_path / "labels.txt").write_text("BACKGROUND\nperson\nmug\n")
    with_bg = OnnxDetector(config(path, "ssd", [], class_names_file="labels.txt", box_format=box_format,
                                  boxes_normalized=normalized, background_class=True))
    assert with_bg.class_names == ["person", "mug"]
    assert np.allclose(dets[0].box_xyxy, (32, 48, 64, 72), atol=1e-3)       # 0.25 * 128, 0.5 * 96, ...
    assert np.allclose(dets[1].box_xyxy, (76.8, 9.6, 115.2, 28.8), atol=1e-3)


# ---------------------------------------------------------------------------- DETR


def softmax_score(logits, k):
    e = [math.exp(v) for v in logits]
    return e[k] / sum(e)


DETR_LOGITS = [(4.0, 0.0, 0.0, 0.0),     # class 0
               (0.0, 0.0, 0.0, 5.0),     # "no object" (the last class)
               (0.0, 2.0, 0.0, 0.0),     # class 1
               (0.0, 2.5, 0.0, 0.0)]     # class 1 again, overlapping: kept (DETR needs no NMS)
DETR_BOXES = [(0.5, 0.5, 0.2, 0.4), (0.5, 0.5, 0.9, 0.9), (0.25, 0.25, 0.1, 0.1), (0.26, 0.25, 0.1, 0.1)]


@pytest.mark.parametrize("names, output_names, pixel_mask", [
    (("pred_boxes", "logits"), [], True),          # by name hint; a pixel_mask input, as HF exports have
    (("x", "y"), ["y", "x"], False)])              # by configured name
def test_detr_softmax_no_object_and_normalized_centres(tmp_path, names, output_names, pixel_mask):
    # 3 classes + no-object: logits (1, 4, 4) and boxes (1, 4, 4) have the same shape; names decide
    outs = {names[0]: np.array(DETR_BOXES, np.float32)[None], names[1]: np.array(DETR_LOGITS, np.float32)[None]}
    path = export(tmp_path / "detr.onnx", outs, in_hw=(48, 64), pixel_mask=pixel_mask)
    cfg = config(path, "detr", ["cup", "chair", "book"], output_names=output_names)
    assert cfg.normalize_mode() == "mean_std" and cfg.resize_mode() == "stretch"
    dets = OnnxDetector(cfg).detect(frame(128, 96))
    want = [("cup", softmax_score(DETR_LOGITS[0], 0)), ("chair", softmax_score(DETR_LOGITS[3], 1)),
            ("chair", softmax_score(DETR_LOGITS[2], 1))]
    assert [d.class_name for d in dets] == [w[0] for w in want]
    assert np.allclose([d.score for d in dets], [w[1] for w in want], atol=1e-5)
    assert want[0][1] == pytest.approx(math.exp(4) / (math.exp(4) + 3))
    # cx, cy, w, h (0.5, 0.5, 0.2, 0.4) of the input -> x 0.4..0.6 * 128, y 0.3..0.7 * 96
    assert np.allclose(dets[0].box_xyxy, (51.2, 28.8, 76.8, 67.2), atol=1e-3)
    assert np.allclose(dets[1].box_xyxy, (0.21 * 128, 0.2 * 96, 0.31 * 128, 0.3 * 96), atol=1e-3)


# ---------------------------------------------------------------------------- preprocessing


def test_letterbox_geometry_follows_ultralytics():
    g = plan_geometry((100, 70), (64, 64), "letterbox")
    assert (g.resized_w, g.resized_h, g.input_w, g.input_h, g.pad_x, g.pad_y) == (64, 45, 64, 64, 0, 9)
    g = plan_geometry((640, 480), (640, 640), "letterbox")                  # a 640 x 640 export
    assert (g.input_w, g.input_h, g.pad_x, g.pad_y) == (640, 640, 0, 80)
    g = plan_geometry((640, 480), (640, 640), "letterbox", 32, fixed_input=False)   # dynamic: no pad
    assert (g.input_w, g.input_h, g.pad_y) == (640, 480, 0)
    g = plan_geometry((600, 400), (320, 320), "letterbox", 32, fixed_input=False)
    # 0.5333 -> 320 x 213; 107 rows short of 320, 107 % 32 = 11 -> 5 above, 6 below -> 320 x 224
    assert (g.resized_w, g.resized_h, g.input_w, g.input_h, g.pad_y) == (320, 213, 320, 224, 5)
    pts = np.array([[0.0, 0.0, 600.0, 400.0], [12.3, 45.6, 78.9, 101.1]])
    fwd = np.column_stack([pts[:, 0] * g.scale_x + g.pad_x, pts[:, 1] * g.scale_y + g.pad_y,
                           pts[:, 2] * g.scale_x + g.pad_x, pts[:, 3] * g.scale_y + g.pad_y])
    assert np.allclose(g.to_image(fwd), pts)                                # the exact inverse
    g = plan_geometry((100, 70), (64, 48), "stretch")
    assert (g.input_w, g.input_h, g.pad_x, g.pad_y, g.scale_x) == (64, 48, 0, 0, 0.64)


def test_preprocess_pads_orders_channels_and_scales():
    rgb = np.zeros((70, 100, 3), np.uint8)
    rgb[:] = (10, 20, 30)
    geo = plan_geometry((100, 70), (64, 64), "letterbox")
    x = preprocess(rgb, geo, OnnxConfig(output_layout="yolov8"), dtype=np.float32)
    assert x.shape == (1, 3, 64, 64) and x.dtype == np.float32
    assert np.allclose(x[0, :, :9], 114 / 255) and np.allclose(x[0, :, 54:], 114 / 255)   # 9 above, 10 below
    assert np.allclose(x[0, :, 9:54, :].reshape(3, -1).mean(axis=1), np.array([10, 20, 30]) / 255)
    bgr = preprocess(rgb, geo, OnnxConfig(output_layout="yolov8", channel_order="bgr"))
    assert np.allclose(bgr[0, 0, 30, 30], 30 / 255) and np.allclose(bgr[0, 2, 30, 30], 10 / 255)
    detr = preprocess(rgb, plan_geometry((100, 70), (64, 48), "stretch"), OnnxConfig(output_layout="detr"))
    assert np.allclose(detr[0, :, 10, 10], (np.array([10, 20, 30]) / 255 - [0.485, 0.456, 0.406])
                       / [0.229, 0.224, 0.225], atol=1e-5)
    nhwc = preprocess(rgb, geo, OnnxConfig(output_layout="yolov8"), nhwc=True, dtype=np.uint8)
    assert nhwc.shape == (1, 64, 64, 3) and nhwc.dtype == np.uint8 and tuple(nhwc[0, 30, 30]) == (10, 20, 30)


# ---------------------------------------------------------------------------- class names


@pytest.mark.parametrize("fname, text", [
    ("names.txt", "cup\nchair\n\nbook\n"),
    ("names.json", json.dumps(["cup", "chair", "book"])),
    ("names.json", json.dumps({"0": "cup", "1": "chair", "2": "book"})),
    ("config.json", json.dumps({"id2label": {"0": "cup", "1": "chair", "2": "book"}, "model_type": "detr"})),
    ("data.yaml", "names: [cup, chair, book]\nnc: 3\n"),
    ("data.yml", "names:\n  0: cup\n  1: chair\n  2: book\n"),
    ("plain.yaml", "- cup\n- chair\n- book\n"),
])
def test_class_names_files(tmp_path, fname, text):
    (tmp_path / fname).write_text(text)
    assert load_class_names(fname, str(tmp_path / "model.onnx")) == ["cup", "chair", "book"]   # relative
    assert load_class_names(str(tmp_path / fname)) == ["cup", "chair", "book"]


def test_class_names_file_errors(tmp_path):
    (tmp_path / "gap.json").write_text(json.dumps({"0": "cup", "2": "book"}))
    assert load_class_names(str(tmp_path / "gap.json")) == ["cup", "class_1", "book"]
    (tmp_path / "other.yaml").write_text("train: images/\n")
    with pytest.raises(ConfigError, match="names"):
        load_class_names(str(tmp_path / "other.yaml"))
    with pytest.raises(ConfigError, match="no such file"):
        load_class_names("missing.txt", str(tmp_path / "model.onnx"))


def test_class_count_mismatch_is_a_config_error_at_load(yolov8_model, tmp_path):
    names = Path(yolov8_model).parent / "two.txt"
    names.write_text("cup\nchair\n")
    with pytest.raises(ConfigError, match=r"has 2 class names but the model's yolov8 outputs .* have 3 classes"):
        OnnxDetector(config(yolov8_model, "yolov8", [], class_names_file="two.txt"))
    # the file is used instead of class_names (a ROS parameter file cannot empty a list)
    assert OnnxDetector(config(yolov8_model, "yolov8", ["x"] * 80, class_names_file="data.yaml")).class_names \
        == YOLO_NAMES
    with pytest.raises(ConfigError, match="4 class names"):
        OnnxDetector(config(yolov8_model, "yolov8", ["a", "b", "c", "d"]))


# ---------------------------------------------------------------------------- bad outputs


def test_outputs_that_fit_no_layout_fail_at_load_with_a_hint(yolov8_model, tmp_path):
    with pytest.raises(ConfigError, match=r"needs mask protos"):
        OnnxDetector(config(yolov8_model, "yolov8_seg", YOLO_NAMES))
    v5 = export(tmp_path / "v5.onnx", {"output0": np.zeros((1, 20, 5 + 3), np.float32)})
    with pytest.raises(ConfigError, match="looks like a yolov5 head"):
        OnnxDetector(config(v5, "yolov8", YOLO_NAMES))
    with pytest.raises(ConfigError, match="output_names"):
        OnnxDetector(config(yolov8_model, "yolov8", YOLO_NAMES, output_names=["logits"]))


@pytest.mark.parametrize("layout, outputs", [
    ("yolov8", [np.zeros((1, 6, 10))]),                                 # 4 + 2 rows for 3 classes
    ("yolov8", [np.zeros((10, 7))]),                                    # no batch axis, rank 2
    ("yolov8_seg", [np.zeros((1, 4 + 3 + 32, 10))]),                    # no protos
    ("yolov5", [np.zeros((1, 10, 9))]),
    ("yolo_end2end", [np.zeros((1, 10, 7))]),
    ("yolo_end2end", [np.array([[[0, 0, 5, 5, 0.9, 7]]])]),             # class id beyond the names
    ("boxes_scores", [np.zeros((1, 10, 4))]),                           # one output
    ("boxes_scores", [np.zeros((1, 10, 4)), np.zeros((1, 9, 3))]),      # rows differ
    ("detr", [np.zeros((1, 5, 3)), np.zeros((1, 5, 4))]),               # 3 logits for 3 classes + 1
])
def test_bad_outputs_are_input_errors_per_frame(layout, outputs):
    cfg = OnnxConfig(class_names=YOLO_NAMES, output_layout=layout, input_width=64, input_height=64)
    with pytest.raises(InputError) as e:
        decode(outputs, cfg, (64, 64))
    assert e.value.cause == "bad_model_output" and str(e.value).startswith("bad_model_output: ")


def test_config_rejects_unknown_layouts_and_misplaced_options():
    with pytest.raises(ConfigError, match="output_layout"):
        OnnxConfig(output_layout="yolov99").validate()
    with pytest.raises(ConfigError, match="boxes_scores layout only"):
        OnnxConfig(output_layout="yolov8", boxes_normalized=True).validate()
    with pytest.raises(ConfigError, match="resize"):
        OnnxConfig(resize="crop").validate()
    assert OnnxConfig(output_layout="ssd").layout() == "boxes_scores"
    assert OnnxConfig(output_layout="yolo").layout() == "yolov8"
    assert OnnxConfig(output_layout="yolo").resize_mode() == "stretch"       # the old name keeps its resize
    assert OnnxConfig(output_layout="yolo11").resize_mode() == "letterbox"
