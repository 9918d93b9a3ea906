"""Typed configuration of the perception core. config/perception.yaml has the same sections and names:

    perception:
      ros__parameters:
        detector: {kind: oracle, ...}
        oracle: {...}
        onnx: {...}
        lifting: {...}
        views: {...}
        places: {...}
        rooms: {...}
        transforms: {...}
        sync: {...}
        frames: {...}
        persistence: {...}

Build with ``PerceptionConfig.from_params(load_node_params(path, "perception"))``. Every value has its unit
in the name; ``validate`` fails fast on anything out of range.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Tuple

from memory_nodes.common.config import config_from_dict
from memory_nodes.common.errors import ConfigError

from .detector_models import int8_model_name


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise ConfigError(what)


@dataclass
class DetectorConfig:
    kind: str = "oracle"                 # "oracle" (simulator instance masks) | "onnx"

    def validate(self) -> None:
        _check(self.kind in ("oracle", "onnx"), f"detector.kind must be oracle|onnx, got {self.kind!r}")


@dataclass
class OracleConfig:
    """Error model of the noisy-oracle detector. Probabilities are per visible instance per frame."""
    seed: int = 0
    miss_prob_base: float = 0.03         # miss probability of a large, close, unoccluded object
    miss_prob_per_m: float = 0.04        # added per metre of distance beyond miss_free_distance_m
    miss_free_distance_m: float = 1.5
    miss_prob_occlusion: float = 0.5     # added at full occlusion (scaled by the hidden fraction)
    small_area_px: float = 400.0         # area (px at 640x480) below which the small-size miss term grows
    miss_prob_small: float = 0.4         # added for an object of zero area (linear up to small_area_px)
    max_range_m: float = 6.0             # objects farther than this are never detected
    min_area_px: int = 30                # masks smaller than this (after erosion, px at 640x480) vanish
    confusion_prob: float = 0.08         # probability a class with a look-alike is reported as it
    confusion_pairs: List[str] = field(default_factory=lambda: [
        "mug:cup", "book:notebook", "remote_control:phone", "bowl:plate", "water_bottle:bottle",
        "tablet:laptop"])
    false_positive_rate: float = 0.05    # expected spurious detections per frame (Poisson mean)
    false_positive_classes: List[str] = field(default_factory=list)  # empty: the classes in the table
    erode_px: int = 1                    # mask erosion radius (px at 640x480; scaled with resolution)
    score_mean: float = 0.85             # detector confidence of true detections (mean)
    score_std: float = 0.08
    false_positive_score_mean: float = 0.45
    ignore_classes: List[str] = field(default_factory=lambda: [
        "wall", "floor", "ceiling", "door", "background", "robot"])

    def validate(self) -> None:
        for name in ("miss_prob_base", "miss_prob_per_m", "miss_prob_occlusion", "miss_prob_small",
                     "confusion_prob", "score_mean", "score_std", "false_positive_score_mean"):
            v = getattr(self, name)
            _check(0.0 <= v <= 1.0, f"oracle.{name} must be in [0, 1], got {v}")
        _check(self.false_positive_rate >= 0.0, "oracle.false_positive_rate must be >= 0")
        _check(self.max_range_m > 0.0, "oracle.max_range_m must be > 0")
        _check(self.erode_px >= 0 and self.min_area_px >= 0, "oracle.erode_px/min_area_px must be >= 0")
        _check(self.small_area_px > 0.0, "oracle.small_area_px must be > 0")
        for pair in self.confusion_pairs:
            _check(pair.count(":") == 1 and all(pair.split(":")),
                   f"oracle.confusion_pairs entries look like 'mug:cup', got {pair!r}")

    def confusion_map(self) -> Dict[str, List[str]]:
        """class -> look-alike classes (symmetric)."""
        out: Dict[str, List[str]] = {}
        for pair in self.confusion_pairs:
            a, b = pair.split(":")
            out.setdefault(a, []).append(b)
            out.setdefault(b, []).append(a)
        return out


CPU_PRECISIONS = ("auto", "int8", "float")   # onnx.cpu_precision values

# onnxruntime's GPU execution providers, fastest first (OnnxConfig.providers' default order before the CPU)
GPU_PROVIDERS: Tuple[str, ...] = ("TensorrtExecutionProvider", "CUDAExecutionProvider")

# Output layouts of OnnxConfig.output_layout: canonical name -> other names that mean it.
ONNX_LAYOUTS: Dict[str, Tuple[str, ...]] = {
    "boxes_scores": ("ssd",),                        # boxes (1, N, 4) + scores (1, N, C)
    "yolov8": ("yolo", "yolo11", "yolov9"),          # (1, 4 + C, N): cx, cy, w, h, C class scores
    "yolov8_seg": ("yolo11_seg",),                   # (1, 4 + C + M, N) + protos (1, M, Hp, Wp)
    "yolov5": (),                                    # (1, N, 5 + C): cx, cy, w, h, objectness, C scores
    "yolov5_seg": (),                                # (1, N, 5 + C + M) + protos (1, M, Hp, Wp)
    "yolo_end2end": ("yolov10", "yolo26"),           # (1, N, 6 [+ M]): x1, y1, x2, y2, score, class [+ protos]
    "detr": (),                                      # pred_logits (1, Q, C + 1) + pred_boxes (1, Q, 4)
}


def onnx_layout(name: str) -> str:
    """The canonical layout of ``name`` (an alias or a canonical name); "" when unknown."""
    for canonical, aliases in ONNX_LAYOUTS.items():
        if name == canonical or name in aliases:
            return canonical
    return ""


@dataclass
class OnnxConfig:
    """A detector exported to ONNX (see onnx_detector.py for each layout's tensors and "bring your own
    detector" in the README). Empty strings / "auto" pick what the layout's export tool expects."""
    model_path: str = ""
    class_names: List[str] = field(default_factory=list)  # in the model's class order
    class_names_file: str = ""           # used instead of class_names when set: .txt (one per line) | .json
    #                                      (list or {id: name}) | .yaml/.yml (a `names:` list or {id: name},
    #                                      as ultralytics writes it); relative to the model's folder. Neither
    #                                      set: the model's metadata `names` (ultralytics exports carry it)
    providers: List[str] = field(default_factory=lambda: list(GPU_PROVIDERS) + ["CPUExecutionProvider"])
    #                                      onnxruntime execution providers, in order; the ones this
    #                                      onnxruntime lacks are skipped (a warning when a GPU one was asked
    #                                      and the CPU runs), CPU is always the last resort
    device_id: int = 0                   # CUDA / TensorRT: which GPU
    trt_fp16: bool = True                # TensorRT: build the engine in FP16 (trt_fp16_enable)
    trt_engine_cache: bool = True        # TensorRT: keep built engines on disk (trt_engine_cache_enable); the
    #                                      first start builds one (a minute or more on a Jetson), later ones load it
    trt_engine_cache_path: str = ""      # where the engines go; "" = trt_engines/ beside the model; relative:
    #                                      from the model's folder (models/ is a volume in docker/)
    trt_max_workspace_mb: int = 1024     # TensorRT builder scratch memory (trt_max_workspace_size), MiB
    input_width: int = 640               # px; used where the model's input size is dynamic (a model with a
    input_height: int = 480              # fixed input size is fed that size)
    output_layout: str = "boxes_scores"  # boxes_scores (ssd) | yolov8 (yolo, yolo11) | yolov8_seg
    #                                      (yolo11_seg) | yolov5 | yolov5_seg | yolo_end2end (yolov10,
    #                                      yolo26) | detr
    output_names: List[str] = field(default_factory=list)  # the layout's outputs by name, in its order
    #                                      (e.g. [output0, output1]); empty: chosen by shape
    resize: str = "auto"                 # letterbox (keep aspect, pad) | stretch | auto: letterbox for the
    #                                      yolov5/yolov8/end2end families, stretch otherwise (and for "yolo")
    letterbox_pad_value: int = 114       # 0-255, the pad colour of letterbox (ultralytics: 114)
    letterbox_stride: int = 32           # px; a dynamic-size input is padded to a multiple of this
    normalize: str = "auto"              # unit ([0, 1]) | mean_std ((x/255 - mean) / std) | raw (0-255) |
    #                                      auto: mean_std for detr, unit otherwise
    mean: List[float] = field(default_factory=lambda: [0.485, 0.456, 0.406])  # per channel (RGB), of x/255
    std: List[float] = field(default_factory=lambda: [0.229, 0.224, 0.225])   # ImageNet's
    channel_order: str = "rgb"           # rgb | bgr (the channel order the model expects)
    box_format: str = "xyxy"             # boxes_scores only: xyxy | yxyx | cxcywh
    boxes_normalized: bool = False       # boxes_scores only: boxes in [0, 1] of the input, not input px
    background_class: bool = False       # boxes_scores only: score column 0 is background (skipped; a
    #                                      names list one longer than the classes loses its first name)
    score_threshold: float = 0.4
    nms_iou_threshold: float = 0.5       # not used by detr / yolo_end2end (their outputs need no NMS)
    max_detections: int = 100
    class_agnostic_nms: bool = False
    mask_threshold: float = 0.5          # segmentation layouts: a pixel is the object above this probability
    intra_op_threads: int = 1
    cpu_precision: str = "auto"          # the model the CPU provider runs: auto (the INT8 twin
    #                                      <model>.int8.onnx beside model_path when it is there, else the float
    #                                      model; the default detector's missing twin is a warning) | int8 (the
    #                                      twin, a ConfigError when it is missing) | float (never the twin).
    #                                      GPU providers always run the float model (TensorRT builds FP16)

    def int8_model_path(self) -> str:
        """The INT8 twin of ``model_path`` (``x.onnx`` -> ``x.int8.onnx``, same folder)."""
        return int8_model_name(self.model_path) if self.model_path else ""

    def layout(self) -> str:
        """The canonical output layout (aliases resolved)."""
        return onnx_layout(self.output_layout)

    def resize_mode(self) -> str:
        """letterbox | stretch, "auto" resolved for the layout ("yolo", the old name, keeps stretch)."""
        if self.resize != "auto":
            return self.resize
        letterbox = self.layout() in ("yolov8", "yolov8_seg", "yolov5", "yolov5_seg", "yolo_end2end")
        return "letterbox" if letterbox and self.output_layout != "yolo" else "stretch"

    def normalize_mode(self) -> str:
        """unit | mean_std | raw, "auto" resolved for the layout."""
        if self.normalize != "auto":
            return self.normalize
        return "mean_std" if self.layout() == "detr" else "unit"

    def validate(self) -> None:
        names = sorted(n for c, a in ONNX_LAYOUTS.items() for n in (c,) + a)
        _check(bool(self.layout()), f"onnx.output_layout must be one of {names}, got {self.output_layout!r}")
        _check(self.resize in ("auto", "letterbox", "stretch"),
               f"onnx.resize must be auto|letterbox|stretch, got {self.resize!r}")
        _check(self.normalize in ("auto", "unit", "mean_std", "raw"),
               f"onnx.normalize must be auto|unit|mean_std|raw, got {self.normalize!r}")
        _check(self.channel_order in ("rgb", "bgr"), f"onnx.channel_order must be rgb|bgr, got {self.channel_order!r}")
        _check(self.box_format in ("xyxy", "yxyx", "cxcywh"),
               f"onnx.box_format must be xyxy|yxyx|cxcywh, got {self.box_format!r}")
        if self.layout() != "boxes_scores":
            _check(self.box_format == "xyxy" and not self.boxes_normalized and not self.background_class,
                   f"onnx.box_format/boxes_normalized/background_class apply to the boxes_scores layout only; "
                   f"{self.output_layout!r} fixes its own boxes")
        _check(0 <= self.letterbox_pad_value <= 255, "onnx.letterbox_pad_value must be in [0, 255]")
        _check(self.letterbox_stride >= 1, "onnx.letterbox_stride must be >= 1")
        _check(len(self.mean) == 3 and len(self.std) == 3 and all(s > 0.0 for s in self.std),
               "onnx.mean and onnx.std need 3 values each, std > 0")
        _check(0.0 < self.mask_threshold < 1.0, "onnx.mask_threshold must be in (0, 1)")
        _check(0.0 <= self.score_threshold <= 1.0, "onnx.score_threshold must be in [0, 1]")
        _check(0.0 < self.nms_iou_threshold <= 1.0, "onnx.nms_iou_threshold must be in (0, 1]")
        _check(self.input_width > 0 and self.input_height > 0, "onnx.input_width/height must be > 0")
        _check(self.max_detections > 0, "onnx.max_detections must be > 0")
        _check(self.intra_op_threads >= 0, "onnx.intra_op_threads must be >= 0")
        _check(bool(self.providers) and all(isinstance(p, str) and p.endswith("ExecutionProvider")
                                            for p in self.providers),
               f"onnx.providers: onnxruntime execution provider names (TensorrtExecutionProvider, "
               f"CUDAExecutionProvider, CPUExecutionProvider, ...), got {self.providers!r}")
        _check(self.cpu_precision in CPU_PRECISIONS,
               f"onnx.cpu_precision must be one of {'|'.join(CPU_PRECISIONS)}, got {self.cpu_precision!r}")
        _check(self.device_id >= 0, "onnx.device_id must be >= 0")
        _check(self.trt_max_workspace_mb > 0, "onnx.trt_max_workspace_mb must be > 0")

    def engine_cache_dir(self) -> str:
        """The TensorRT engine cache folder: ``trt_engine_cache_path`` (relative: from the model's folder),
        "" = trt_engines/ beside the model."""
        base = os.path.dirname(os.path.abspath(self.model_path)) if self.model_path else os.getcwd()
        path = self.trt_engine_cache_path or "trt_engines"
        return path if os.path.isabs(path) else os.path.join(base, path)


@dataclass
class LiftingConfig:
    pixel_stride: int = 2                # sample every n-th pixel of a mask in each direction
    min_depth_m: float = 0.2
    max_depth_m: float = 8.0
    min_points: int = 12                 # fewer lifted points: the detection is dropped
    max_points_per_detection: int = 3000  # larger detections are sampled with a coarser stride
    outlier_mad_k: float = 3.0           # points farther than k * MAD (along the view ray) are dropped
    extent_percentile: float = 1.0       # robust box: this and 100 - this percentile of the points
    hidden_depth_factor: float = 0.7     # assumed footprint depth along the view = this * visible width
    voxel_size_m: float = 0.02           # downsampled cloud
    keep_points: bool = True             # attach the downsampled cloud to each observation
    min_valid_depth_fraction: float = 0.01  # frames with fewer valid depth pixels are rejected
    # box-only detections (no mask): which pixels of the box are the object
    box_foreground: str = "depth_mode"   # depth_mode: the depths of the nearest dominant depth mode in the
    #                                      central foreground_box_fraction of the box | center: all of the
    #                                      central box_center_fraction (the rule before depth_mode)
    box_center_fraction: float = 0.6     # center: the central part of the box kept, per direction (0, 1]
    foreground_box_fraction: float = 0.9  # depth_mode: the central part of the box searched, per direction
    foreground_bin_m: float = 0.04       # depth histogram bin (grows with depth: bin * max(1, z / 2 m))
    foreground_min_fraction: float = 0.05  # a depth mode holding less of the box's depths is not dominant
    foreground_valley_ratio: float = 0.5   # two modes are apart where the histogram between them falls
    #                                        below this * the lower peak
    foreground_depth_factor: float = 1.0   # the kept depths end this * the box's width (m, at the mode)
    #                                        behind the mode (an object about as deep as it is wide)
    backend: str = "numpy"               # per-pixel work (back-projection, box foreground, voxel grid):
    #                                      numpy | torch (lifting_torch.py: one batch per frame, CUDA when
    #                                      there; same results to 1e-5; torch is imported only when chosen)
    device: str = "auto"                 # torch backend: auto (cuda when available, else cpu) | cpu | cuda

    def validate(self) -> None:
        _check(self.pixel_stride >= 1, "lifting.pixel_stride must be >= 1")
        _check(0.0 <= self.min_depth_m < self.max_depth_m, "lifting: need 0 <= min_depth_m < max_depth_m")
        _check(self.min_points >= 1, "lifting.min_points must be >= 1")
        _check(self.outlier_mad_k > 0.0, "lifting.outlier_mad_k must be > 0")
        _check(self.max_points_per_detection >= self.min_points, "lifting.max_points_per_detection >= min_points")
        _check(0.0 <= self.extent_percentile < 50.0, "lifting.extent_percentile must be in [0, 50)")
        _check(0.0 <= self.hidden_depth_factor <= 2.0, "lifting.hidden_depth_factor must be in [0, 2]")
        _check(self.voxel_size_m > 0.0, "lifting.voxel_size_m must be > 0")
        _check(0.0 <= self.min_valid_depth_fraction <= 1.0, "lifting.min_valid_depth_fraction in [0, 1]")
        _check(self.box_foreground in ("depth_mode", "center"),
               f"lifting.box_foreground must be depth_mode|center, got {self.box_foreground!r}")
        _check(0.0 < self.box_center_fraction <= 1.0, "lifting.box_center_fraction must be in (0, 1]")
        _check(0.0 < self.foreground_box_fraction <= 1.0, "lifting.foreground_box_fraction must be in (0, 1]")
        _check(self.foreground_bin_m > 0.0, "lifting.foreground_bin_m must be > 0")
        _check(0.0 <= self.foreground_min_fraction <= 1.0, "lifting.foreground_min_fraction in [0, 1]")
        _check(0.0 < self.foreground_valley_ratio <= 1.0, "lifting.foreground_valley_ratio in (0, 1]")
        _check(self.foreground_depth_factor > 0.0, "lifting.foreground_depth_factor must be > 0")
        _check(self.backend in ("numpy", "torch"), f"lifting.backend must be numpy|torch, got {self.backend!r}")
        _check(self.device in ("auto", "cpu", "cuda"), f"lifting.device must be auto|cpu|cuda, got {self.device!r}")


@dataclass
class ViewsConfig:
    min_interval_s: float = 0.5          # at most one keyframe per this interval (rate cap)
    max_interval_s: float = 10.0         # a keyframe at least this often while frames arrive
    translation_m: float = 0.5           # motion since the last keyframe that makes a new one
    rotation_rad: float = 0.35
    novelty_classes: bool = True         # a class not seen in the last keyframe makes a new one
    depth_width: int = 160
    depth_height: int = 120
    jpeg_width: int = 320
    jpeg_height: int = 240
    jpeg_quality: int = 80

    def validate(self) -> None:
        _check(0.0 <= self.min_interval_s <= self.max_interval_s, "views: need 0 <= min_interval_s <= max")
        _check(self.translation_m > 0.0 and self.rotation_rad > 0.0, "views: motion thresholds must be > 0")
        _check(self.depth_width > 0 and self.depth_height > 0, "views.depth_width/height must be > 0")
        _check(self.jpeg_width > 0 and self.jpeg_height > 0, "views.jpeg_width/height must be > 0")
        _check(1 <= self.jpeg_quality <= 100, "views.jpeg_quality must be in [1, 100]")


@dataclass
class PlacesConfig:
    new_place_distance_m: float = 1.5    # a new place when farther than this from every place
    edge_max_distance_m: float = 4.0     # consecutive places farther apart than this are not joined

    def validate(self) -> None:
        _check(self.new_place_distance_m > 0.0, "places.new_place_distance_m must be > 0")
        _check(self.edge_max_distance_m > 0.0, "places.edge_max_distance_m must be > 0")


def _default_label_evidence() -> Dict[str, List[str]]:
    """Room type -> classes that suggest it (simulator names first, then common detector names). A class
    listed under several rooms splits its vote."""
    return {
        "kitchen": ["fridge", "stove", "sink", "counter", "pantry_shelf", "dining_table", "milk_carton",
                    "cereal_box", "refrigerator", "oven", "microwave", "toaster", "kettle"],
        "dining_room": ["dining_table", "chair"],
        "living_room": ["sofa", "tv_stand", "coffee_table", "armchair", "remote_control", "bookshelf",
                        "couch", "tv", "television"],
        "bedroom": ["bed", "nightstand", "wardrobe", "dresser"],
        "bathroom": ["vanity", "toilet", "bathtub", "towel_shelf", "toothbrush", "towel", "shampoo", "soap",
                     "shower"],
        "office": ["desk", "office_chair", "filing_cabinet", "bookshelf", "laptop", "monitor", "keyboard"],
        "hallway": ["entry_table", "shoe_rack", "coat_rack"],
        "kids_room": ["kids_bed", "toy_box", "play_mat", "kids_table", "building_blocks", "teddy_bear"],
    }


@dataclass
class RoomsConfig:
    grid_resolution_m: float = 0.05
    grid_size_m: float = 40.0            # square grid centred on grid_origin (grows never)
    grid_origin_x_m: float = -20.0
    grid_origin_y_m: float = -20.0
    floor_max_z_m: float = 0.08          # points below this height are floor (free)
    obstacle_min_z_m: float = 0.15       # points between these heights are obstacles
    obstacle_max_z_m: float = 1.9
    max_range_m: float = 5.0             # depth farther than this does not touch the grid
    pixel_stride: int = 6                # grid update samples every n-th pixel
    update_every_n_frames: int = 1
    segment_every_n_frames: int = 50     # rooms are re-cut at most this often (and on demand)
    door_width_m: float = 1.0            # openings up to this wide separate rooms
    min_room_area_m2: float = 2.0
    occupied_min_hits: int = 2           # a cell is occupied after this many obstacle hits
    obstacle_inflate_m: float = 0.05
    label_evidence: Dict[str, List[str]] = field(default_factory=_default_label_evidence)
    label_min_confidence: float = 0.34   # below this the label is "unknown"
    label_prior_count: float = 0.25      # pseudo-count per label of the symmetric prior
    label_min_sightings: int = 2         # an object (class in a 0.5 m cell) votes once seen on this many frames
    match_min_iou: float = 0.3           # a new segment keeps an old room's id above this overlap
    merge_border_m: float = 1.0          # neighbouring segments sharing a longer border are one room
    hallway_label: str = "hallway"       # a long, narrow room's shape votes for this label ("" = never)
    hallway_max_width_m: float = 2.2
    hallway_min_elongation: float = 2.5  # area / width^2
    hallway_prior_count: float = 2.0     # votes a long, narrow shape gives hallway_label

    def validate(self) -> None:
        _check(self.grid_resolution_m > 0.0, "rooms.grid_resolution_m must be > 0")
        _check(self.grid_size_m > self.grid_resolution_m, "rooms.grid_size_m must exceed the resolution")
        _check(self.floor_max_z_m < self.obstacle_min_z_m < self.obstacle_max_z_m,
               "rooms: need floor_max_z_m < obstacle_min_z_m < obstacle_max_z_m")
        _check(self.pixel_stride >= 1 and self.update_every_n_frames >= 1
               and self.segment_every_n_frames >= 1, "rooms: strides and periods must be >= 1")
        _check(self.door_width_m > 0.0 and self.min_room_area_m2 >= 0.0, "rooms: door/area must be > 0")
        _check(self.occupied_min_hits >= 1, "rooms.occupied_min_hits must be >= 1")
        _check(0.0 <= self.label_min_confidence <= 1.0, "rooms.label_min_confidence in [0, 1]")
        _check(self.label_prior_count >= 0.0, "rooms.label_prior_count must be >= 0")
        _check(self.label_min_sightings >= 1, "rooms.label_min_sightings must be >= 1")
        _check(self.hallway_prior_count >= 0.0, "rooms.hallway_prior_count must be >= 0")
        _check(0.0 < self.match_min_iou <= 1.0, "rooms.match_min_iou in (0, 1]")
        _check(self.merge_border_m > 0.0, "rooms.merge_border_m must be > 0")
        _check(self.hallway_max_width_m > 0.0 and self.hallway_min_elongation > 0.0,
               "rooms.hallway_max_width_m and hallway_min_elongation must be > 0")
        cells = int(round(self.grid_size_m / self.grid_resolution_m))
        _check(cells <= 4096, f"rooms: grid of {cells}x{cells} cells is too large")


@dataclass
class TransformsConfig:
    cache_time_s: float = 10.0           # dynamic transforms older than newest - this are forgotten
    max_extrapolation_s: float = 0.05    # look-ups this far past the newest (or before the oldest) hold
    lookup_timeout_s: float = 0.0        # ROS node only: wait this long for tf (0 = no wait)
    wait_for_tf_s: float = 0.5           # ROS node only: a frame whose tf has not arrived yet is held (in
                                         # order, not blocking) and retried this long before rejection
    # time policy per dynamic tf edge (sync.py StampGuard): a sample more than cache_time_s behind the edge's
    # newest, or more than this many s ahead of it, is an outlier and rejected (24 h: a robot paused
    # overnight resumes, a stamp years ahead does not)
    jump_forward_tolerance_s: float = 86400.0
    new_time_base_stamps: int = 3        # this many samples in a row that agree beyond a jump: a new time base

    def validate(self) -> None:
        _check(self.cache_time_s > 0.0, "transforms.cache_time_s must be > 0")
        _check(self.jump_forward_tolerance_s > 0.0, "transforms.jump_forward_tolerance_s must be > 0")
        _check(self.new_time_base_stamps >= 1, "transforms.new_time_base_stamps must be >= 1")
        _check(self.max_extrapolation_s >= 0.0, "transforms.max_extrapolation_s must be >= 0")
        _check(self.lookup_timeout_s >= 0.0, "transforms.lookup_timeout_s must be >= 0")
        _check(self.wait_for_tf_s >= 0.0, "transforms.wait_for_tf_s must be >= 0")


@dataclass
class SyncConfig:
    slop_s: float = 0.02                 # messages this close in time belong to one frame
    queue_size: int = 10                 # per input; the oldest is dropped beyond this
    reliable: bool = False               # camera subscriptions RELIABLE instead of sensor-data (best
    #                                      effort); only for RELIABLE publishers, e.g. the simulator in
    #                                      lockstep, where a lost image would stall the lockstep
    # time policy per camera input (sync.py StampGuard): a stamp more than jump_back_tolerance_s behind the
    # input's newest or jump_forward_tolerance_s ahead of it is an outlier, rejected (stamp_jump), unless
    # new_time_base_stamps stamps in a row agree beyond the jump: then they are a new time base (a bag loop,
    # a clock reset)
    jump_back_tolerance_s: float = 60.0
    jump_forward_tolerance_s: float = 86400.0   # 24 h: a robot paused overnight resumes
    new_time_base_stamps: int = 3

    def validate(self) -> None:
        _check(self.slop_s >= 0.0, "sync.slop_s must be >= 0")
        _check(self.jump_back_tolerance_s > 0.0 and self.jump_forward_tolerance_s > 0.0,
               "sync.jump_back_tolerance_s and sync.jump_forward_tolerance_s must be > 0")
        _check(self.new_time_base_stamps >= 1, "sync.new_time_base_stamps must be >= 1")
        _check(self.queue_size >= 1, "sync.queue_size must be >= 1")


@dataclass
class FramesConfig:
    map_frame: str = "map"
    base_frame: str = "base_link"
    camera_frame: str = ""               # empty: the frame_id of the images

    def validate(self) -> None:
        _check(bool(self.map_frame) and bool(self.base_frame), "frames.map_frame/base_frame must be set")


@dataclass
class PersistenceConfig:
    state_file: str = ""                 # ROS node only: grid, places, rooms kept here across restarts ("" = off)
    save_every_n_frames: int = 500       # also saved on shutdown

    def validate(self) -> None:
        _check(self.save_every_n_frames >= 1, "persistence.save_every_n_frames must be >= 1")


@dataclass
class ResendConfig:
    """ROS node only: frames sent on perception/frames and not yet acknowledged by memory
    (memory/ingested_through) are kept and resent when memory comes back (resend.py)."""
    max_frames: int = 600                # frames kept at most (0 = resend nothing); <= 1000, the depth of
    #                                      perception/frames' queue, so one resend burst fits in it
    max_mb: float = 200.0                # MB kept at most (keyframes carry depth and JPEG)
    silence_s: float = 10.0              # wall s: a memory not heard from this long (it publishes at least
    #                                      every second) may have been away: heard again, it gets all kept frames
    when_full: str = "refuse"            # refuse: a new frame is rejected (frame_ack, no frames message) while
    #                                      the ring is full, so memory's watermark never passes a frame sent and
    #                                      not stored; drop_oldest: it is sent and the oldest kept is dropped
    #                                      unacknowledged (fresher data, but that frame may be missing)

    def validate(self) -> None:
        _check(0 <= self.max_frames <= 1000, "resend.max_frames must be in [0, 1000]")
        _check(self.when_full in ("refuse", "drop_oldest"), "resend.when_full must be refuse or drop_oldest")
        _check(self.max_mb > 0.0 and self.silence_s > 0.0, "resend.max_mb and resend.silence_s must be > 0")


@dataclass
class PerceptionConfig:
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    oracle: OracleConfig = field(default_factory=OracleConfig)
    onnx: OnnxConfig = field(default_factory=OnnxConfig)
    lifting: LiftingConfig = field(default_factory=LiftingConfig)
    views: ViewsConfig = field(default_factory=ViewsConfig)
    places: PlacesConfig = field(default_factory=PlacesConfig)
    rooms: RoomsConfig = field(default_factory=RoomsConfig)
    transforms: TransformsConfig = field(default_factory=TransformsConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    frames: FramesConfig = field(default_factory=FramesConfig)
    persistence: PersistenceConfig = field(default_factory=PersistenceConfig)
    resend: ResendConfig = field(default_factory=ResendConfig)

    def validate(self) -> None:
        for name in ("detector", "oracle", "onnx", "lifting", "views", "places", "rooms", "transforms",
                     "sync", "frames", "persistence", "resend"):
            getattr(self, name).validate()

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "PerceptionConfig":
        """From the nested ``ros__parameters`` of the perception node (other keys are ignored)."""
        known = {k: v for k, v in params.items() if k in cls.__dataclass_fields__}
        return config_from_dict(cls, known)
