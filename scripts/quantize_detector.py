#!/usr/bin/env python3
"""INT8 static quantization of the default detector for onnxruntime's CPU provider.

Run by scripts/fetch_detector.py after it converted the float model (and on its own: idempotent). Flow:

1. Calibration frames are rendered by the project's own simulator (``sim/``): patrol frames of a few
   generated homes and days, 640 x 480, fed through the detector's own preprocessing (stretched to the
   model's 384 x 288, RGB in [0, 1]). Never the evaluation recordings (../shared/realdata).
2. The float model is pre-processed (``quant_pre_process``: shape inference and onnxruntime's basic graph
   optimizations, which fold the converter's NHWC Transpose pairs and the explicit Pads into the Convs), then
   ``quantize_static`` writes a QDQ model: weights int8 per output channel, activations uint8 (asymmetric;
   measured faster and closer to the float model than int8 activations here), MinMax calibration. The box
   decoder at the end (softmax over the bins, their expectation) and the score sigmoids stay float: they
   are cheap and the boxes' precision lives there. So do the first three Convs (``FLOAT_STEM_CONVS``: the
   input normalisation and the stem): quantized, they made most of the score error. Keeping each group of
   Convs float in turn, the per-anchor class-logit error against the float model (held-out rendered frames
   and scikit-image's sample photos) fell from 0.21 to 0.11-0.14 mean absolute for the stem and not for any
   other group; on real camera frames the quantized stem pulled scores down (7-Scenes, evaluation only: by
   0.13 in logit, a third of the float model's detections lost at the 0.4 threshold; 0.00 with the stem
   float, 0.92 of them found). Two float Convs did as well but ran slower here (the quantize step then sits
   on the stem's full-resolution output); three cost nothing measurable (~21 ms against 33 ms float).
3. The int8 model is checked against the float one on held-out rendered frames (detections matched at
   IoU >= 0.5 with the same class; the recall of the float detections) and written beside it as
   ``models/nanodet-coco.int8.onnx`` with a provenance JSON (the float model's sha256, the agreement).

The float model stays: TensorRT / CUDA run it (TensorRT builds its own FP16 engine); ``onnx.cpu_int8``
(config/perception.yaml) picks the int8 file when the CPU provider runs.

Exit codes: 0 done or already current; 4 no float model to quantize; 1 quantization failed or the int8
model agreed too little with the float one (the setup warns and goes on with the float model).

Usage: python scripts/quantize_detector.py [--out-dir DIR] [--force] [--check] [--activations u8|s8]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:                    # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from memory_nodes.perception.detector_models import DEFAULT_DETECTOR, models_dir  # noqa: E402

QUANTIZER_VERSION = 2                    # bump when the int8 recipe changes: setup requantizes
FLOAT_STEM_CONVS = 3                     # the first Convs from the input that stay float (see the module doc)
CALIB_SEEDS = (0, 1, 2, 3)               # simulated homes (world seeds) the calibration frames come from
CALIB_FRAMES_PER_SEED = 24
CALIB_VARIANTS = 1                       # photometric variants per calibration frame (jitter)
CHECK_SEEDS = (7, 8, 9, 10)              # held-out homes for the agreement check
CHECK_FRAMES_PER_SEED = 16
MIN_RECALL = 0.8                         # of the float model's detections, found by the int8 one (check)
# where the decoder's float tail starts (decoder_tail): NanoDet's head splits each level's channels there
_FLOAT_TAIL_OPS = ("Split",)


class QuantizeError(RuntimeError):
    """Quantization could not be done or its result disagreed with the float model."""


def float_model_path(out_dir: Optional[Path] = None) -> Path:
    return DEFAULT_DETECTOR.path(out_dir)


def int8_model_path(out_dir: Optional[Path] = None) -> Path:
    return (out_dir or models_dir()) / DEFAULT_DETECTOR.int8_file


def int8_provenance_path(out_dir: Optional[Path] = None) -> Path:
    return (out_dir or models_dir()) / DEFAULT_DETECTOR.int8_provenance_file


# ------------------------------------------------------------------------------- calibration frames
def sim_frames(seeds: Sequence[int], per_seed: int, day: int = 0) -> Iterator[Any]:
    """640 x 480 RGB-D frames along the simulator's patrol of each home (world seed), spread evenly."""
    from sim.simulator import Simulator
    for seed in seeds:
        sim = Simulator(seed=int(seed))
        sim.config.patrol.coverage_fraction = 1.0
        plan = sim.patrol_plan(day)
        stamps = plan.trajectory.stamps_ns(sim.config.camera.rate_hz)
        step = max(1, len(stamps) // per_seed)
        for t in stamps[step // 2::step][:per_seed]:
            map_T_camera = sim.base_pose_T(plan.trajectory.pose_at(t)) @ sim.base_T_camera
            yield sim.render(map_T_camera, t, 640, 480)


def detector_config(model_path: Path):
    """config/perception.yaml's onnx section on the CPU, one thread, with ``model_path`` and no int8 swap."""
    import dataclasses

    from memory_nodes.common.config import load_node_params
    from memory_nodes.perception.config import PerceptionConfig
    cfg = PerceptionConfig.from_params(load_node_params(ROOT / "config" / "perception.yaml", "perception")).onnx
    return dataclasses.replace(cfg, model_path=str(model_path), providers=["CPUExecutionProvider"],
                               intra_op_threads=1, cpu_precision="float")


def blobs(frames: Sequence[Any], model_path: Path, variants: int = 0, seed: int = 0) -> List[np.ndarray]:
    """The network inputs of ``frames`` as the detector's own preprocessing makes them, each frame followed
    by ``variants`` photometric variants of it (``jitter``)."""
    from memory_nodes.perception.onnx_detector import OnnxDetector
    det = OnnxDetector(detector_config(model_path))
    rng = np.random.default_rng(seed)
    out = []
    for f in frames:
        out.append(det._blob(f.rgb)[0])
        out.extend(det._blob(jitter(f.rgb, rng))[0] for _ in range(variants))
    return out


def decoder_tail(model: Any) -> List[str]:
    """Names of the nodes from the head's last Convs (class logits and box bins of each level) to the
    outputs: those Convs (their inputs int8, their outputs float: uint8 logits would step the scores by
    ~0.025 near the threshold), the sigmoids, the softmax over the bins, the expectation and the box
    arithmetic stay float (int8 boxes would step by a few px); together ~2 ms in float."""
    consumers: Dict[str, List[Any]] = {}
    for n in model.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    tail: Dict[str, None] = {}
    producers = {o: n for n in model.graph.node for o in n.output}
    todo = [n for n in model.graph.node if n.op_type in _FLOAT_TAIL_OPS]
    todo += [producers[n.input[0]] for n in list(todo) if n.input[0] in producers]   # the head's last Convs
    while todo:
        n = todo.pop()
        if n.name in tail:
            continue
        tail[n.name] = None
        for o in n.output:
            todo.extend(consumers.get(o, []))
    return list(tail)


def stem_convs(model: Any, n: int = FLOAT_STEM_CONVS) -> List[str]:
    """Names of the first ``n`` Conv nodes in the graph's (topological) order: the ones nearest the input."""
    return [c.name for c in model.graph.node if c.op_type == "Conv"][:n]


def _pads_non_finite(model: Any, node: Any) -> bool:
    """A Pad whose constant is not finite (TF's max-pool padding with -inf): no int8 scale can hold it."""
    if node.op_type != "Pad" or len(node.input) < 3 or not node.input[2]:
        return False
    from onnx import numpy_helper
    for init in model.graph.initializer:
        if init.name == node.input[2]:
            return not np.isfinite(numpy_helper.to_array(init)).all()
    return False


def jitter(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A photometric variant of a rendered frame (uint8 RGB): gain, gamma, per-channel colour cast, sensor
    noise. Rendered homes are cleaner and flatter than a real camera's images; calibrating on variants too
    widens the activation ranges towards what a real camera gives (MinMax takes the widest seen)."""
    x = rgb.astype(np.float32) / 255.0
    x = x ** rng.uniform(0.7, 1.4)
    x = x * rng.uniform(0.6, 1.3) * rng.uniform(0.85, 1.15, size=3).astype(np.float32)
    x = x + rng.normal(0.0, rng.uniform(0.0, 0.04), size=x.shape).astype(np.float32)
    return (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


class _Reader:
    """onnxruntime.quantization's CalibrationDataReader over prepared input blobs."""

    def __init__(self, input_name: str, data: Sequence[np.ndarray]):
        self._it = iter([{input_name: b} for b in data])

    def get_next(self) -> Optional[Dict[str, np.ndarray]]:
        return next(self._it, None)


# ------------------------------------------------------------------------------------ quantization
def quantize(float_path: Path, out_path: Path, calib: Sequence[np.ndarray], activations: str = "u8",
             log: Callable[[str], None] = print) -> Path:
    """float ONNX -> QDQ int8 ONNX at ``out_path`` (per-channel int8 weights; u8 or s8 activations; MinMax
    calibration: on 7-Scenes, a moving-average MinMax lost a quarter of the float detections (its ranges
    fit the rendered frames too tightly), and Percentile / Entropy cannot bin the -inf max-pool padding)."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory(prefix="quantize_detector_") as tmp_s:
        pre = Path(tmp_s) / "pre.onnx"
        quant_pre_process(str(float_path), str(pre), skip_symbolic_shape=True)
        model = onnx.load(str(pre))
        keep_float = (stem_convs(model) + decoder_tail(model)
                      + [n.name for n in model.graph.node if _pads_non_finite(model, n)])
        log(f"quantizing {float_path.name}: {len(model.graph.node)} nodes after pre-processing, "
            f"{sum(n.op_type == 'Conv' for n in model.graph.node)} Conv; {len(calib)} calibration frames")
        part = out_path.parent / f".{out_path.name}.part"
        act = QuantType.QUInt8 if activations == "u8" else QuantType.QInt8
        # errstate: the calibrator also derives a (never used) range for the excluded -inf Pad's output
        with np.errstate(invalid="ignore", divide="ignore"):
            quantize_static(str(pre), str(part), _Reader(model.graph.input[0].name, calib),
                            quant_format=QuantFormat.QDQ, per_channel=True, weight_type=QuantType.QInt8,
                            activation_type=act, calibrate_method=CalibrationMethod.MinMax,
                            nodes_to_exclude=keep_float,
                            extra_options={"ActivationSymmetric": activations == "s8"})
    os.replace(part, out_path)
    return out_path


# --------------------------------------------------------------------------------------- agreement
def agreement(float_path: Path, int8_path: Path, frames: Sequence[Any]) -> Dict[str, float]:
    """Detections of the int8 model against the float one's on the same frames (see
    ``onnx_detector.detection_agreement``), summed over the frames."""
    from memory_nodes.perception.onnx_detector import OnnxDetector, detection_agreement
    ref = OnnxDetector(detector_config(float_path))
    q = OnnxDetector(detector_config(int8_path))
    total: Dict[str, float] = {"frames": 0}
    for f in frames:
        a = detection_agreement(ref.detect(f), q.detect(f), clear_score=ref.config.score_threshold + 0.1)
        total["frames"] += 1
        for k, v in a.items():
            total[k] = total.get(k, 0) + v
    return summarize(total)


def summarize(total: Dict[str, float]) -> Dict[str, float]:
    """Counts summed over frames -> with recall, precision, mean IoU and the recall clear of the threshold."""
    out = dict(total)
    out["recall"] = total["matched"] / total["float"] if total["float"] else 1.0
    out["recall_clear"] = total["matched_clear"] / total["float_clear"] if total["float_clear"] else 1.0
    out["precision"] = total["matched"] / total["int8"] if total["int8"] else 1.0
    out["mean_iou"] = total["iou_sum"] / total["matched"] if total["matched"] else 0.0
    return out


def timing_ms(path: Path, blob: np.ndarray, runs: int = 20) -> float:
    """Median ms of one inference on one thread."""
    import onnxruntime as ort
    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    o.inter_op_num_threads = 1
    s = ort.InferenceSession(str(path), o, providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    for _ in range(3):
        s.run(None, {name: blob})
    t = []
    for _ in range(runs):
        t0 = time.perf_counter()
        s.run(None, {name: blob})
        t.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(t))


# ------------------------------------------------------------------------------------- provenance
def _sha256(path: Path) -> str:
    import hashlib
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def is_current(out_dir: Path) -> bool:
    """True when the int8 model was made by this recipe from the float model now there, unmodified."""
    f, q, meta_path = float_model_path(out_dir), int8_model_path(out_dir), int8_provenance_path(out_dir)
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        return False
    return (f.is_file() and q.is_file() and meta.get("quantizer_version") == QUANTIZER_VERSION
            and meta.get("float_sha256") == _sha256(f) and meta.get("sha256") == _sha256(q))


def make_int8(out_dir: Path, activations: str = "u8", log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Calibrates, quantizes, checks and writes the int8 model and its provenance; the provenance."""
    f, q = float_model_path(out_dir), int8_model_path(out_dir)
    if not f.is_file():
        raise FileNotFoundError(f"no float detector at {f} (scripts/fetch_detector.py installs it)")
    t0 = time.perf_counter()
    calib_frames = list(sim_frames(CALIB_SEEDS, CALIB_FRAMES_PER_SEED))
    calib = blobs(calib_frames, f, variants=CALIB_VARIANTS)
    log(f"rendered {len(calib_frames)} calibration frames (simulated homes {list(CALIB_SEEDS)}; with "
        f"{CALIB_VARIANTS} photometric variant(s) each, {len(calib)} inputs) in {time.perf_counter() - t0:.0f} s")
    del calib_frames
    tmp = q.parent / f".{q.name}.new"
    quantize(f, tmp, calib, activations, log)
    check_frames = list(sim_frames(CHECK_SEEDS, CHECK_FRAMES_PER_SEED))
    agree = agreement(f, tmp, check_frames)
    ms_f, ms_q = timing_ms(f, calib[0]), timing_ms(tmp, calib[0])
    log(f"int8 vs float on {agree['frames']} held-out rendered frames (homes {list(CHECK_SEEDS)}): "
        f"recall of float detections {agree['recall']:.3f} ({agree['matched']}/{agree['float']}; "
        f"{agree['recall_clear']:.3f} of those scored >= threshold + 0.1), precision "
        f"{agree['precision']:.3f}, mean IoU {agree['mean_iou']:.3f}; one thread {ms_f:.1f} ms float -> "
        f"{ms_q:.1f} ms int8")
    if agree["recall"] < MIN_RECALL:
        tmp.unlink(missing_ok=True)
        raise QuantizeError(f"the int8 model finds only {agree['recall']:.2f} of the float model's detections "
                            f"(< {MIN_RECALL}); not installed, the CPU runs the float model")
    os.replace(tmp, q)
    meta = {"file": q.name, "sha256": _sha256(q), "float_file": f.name, "float_sha256": _sha256(f),
            "quantizer_version": QUANTIZER_VERSION, "format": "QDQ", "weights": "int8 per channel",
            "activations": "uint8 asymmetric" if activations == "u8" else "int8 symmetric",
            "calibration": f"MinMax on {len(calib)} inputs: {len(calib) // (1 + CALIB_VARIANTS)} simulator "
                           f"frames (world seeds {list(CALIB_SEEDS)}, day 0 patrol) and {CALIB_VARIANTS} "
                           f"photometric variant(s) of each",
            "float_nodes": f"the first {FLOAT_STEM_CONVS} Convs (input normalisation, stem); the head's last "
                           f"Convs and the decoder after them; the -inf max-pool Pad",
            "agreement_sim": agree, "cpu_ms_one_thread": {"float": round(ms_f, 2), "int8": round(ms_q, 2)}}
    int8_provenance_path(out_dir).write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out-dir", type=Path, default=models_dir(),
                    help="the models folder (default: models/ at the repository root, or $ROBOT_MEMORY_MODELS_DIR)")
    ap.add_argument("--force", action="store_true", help="quantize even if the int8 model is current")
    ap.add_argument("--check", action="store_true", help="only say whether the int8 model is current (exit 0/1)")
    ap.add_argument("--activations", choices=("u8", "s8"), default="u8",
                    help="activation type: u8 (asymmetric, default) or s8 (symmetric)")
    args = ap.parse_args(argv)
    out_dir = args.out_dir.resolve()
    if args.check:
        return 0 if is_current(out_dir) else 1
    if is_current(out_dir) and not args.force:
        print(f"int8 detector up to date: {int8_model_path(out_dir)}")
        return 0
    try:
        meta = make_int8(out_dir, args.activations)
    except FileNotFoundError as e:
        print(f"int8 detector NOT made: {e}", file=sys.stderr)
        return 4
    except Exception as e:  # onnxruntime's quantizer raises its own types
        print(f"int8 detector NOT made: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"int8 detector installed: {int8_model_path(out_dir)} (recall of float detections "
          f"{meta['agreement_sim']['recall']:.3f} on rendered frames)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
