"""A noisy-oracle detector over the simulator's instance mask.

It turns the per-pixel instance ids into detections with realistic, configurable errors:

- misses: p_miss = base + per_m * (distance beyond a free range) + occlusion * hidden fraction
  + small * (1 - area / small_area), clipped to [0, 1]; never beyond max_range_m;
- confusion between look-alike classes (mug/cup, book/notebook, ...);
- false positives (Poisson per frame) as box-shaped masks with a random class;
- eroded masks, so lifted points lean to the object's interior as a real segmenter's would.

The detections carry NO ground-truth identity. Scorers (the benchmark, tests) may ask which instance a
detection came from through ``scorer_truth``, a side table of the last frame that nothing in the pipeline
reads.

The occlusion term is estimated from the image, as a detector would suffer it: the share of the mask's
outer ring whose depth is nearer than the object (something in front), counting the image border as
occluding (the object is cut off).
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from memory_nodes.common.errors import InputError
from memory_nodes.common.types import Detection2D, RGBDFrame

from .config import OracleConfig

_REF_PIXELS = 640.0 * 480.0        # the config's pixel sizes are at 640x480
_OCCLUDER_MARGIN_M = 0.05          # a ring pixel this much nearer than the object occludes it


class NoisyOracleDetector:
    """Detector over ``frame.instance_mask``; call ``set_class_table`` first (instance id -> class)."""

    def __init__(self, config: OracleConfig, class_table: Optional[Mapping[int, str]] = None):
        config.validate()
        self.config = config
        self._rng = np.random.default_rng(config.seed)
        self._confusions = config.confusion_map()
        self._ignore = set(config.ignore_classes)
        self._classes: Dict[int, str] = {}
        self._fp_classes: List[str] = list(config.false_positive_classes)
        self._truth: List[Tuple[Detection2D, int]] = []
        if class_table is not None:
            self.set_class_table(class_table)

    # ------------------------------------------------------------------ setup

    def set_class_table(self, table: Mapping[int, str]) -> None:
        """Instance id -> class name, as the simulator publishes it. Ignored classes never detect."""
        self._classes = {int(k): str(v) for k, v in table.items() if str(v) not in self._ignore}
        if not self.config.false_positive_classes:
            self._fp_classes = sorted(set(self._classes.values()))

    @property
    def has_class_table(self) -> bool:
        return bool(self._classes)

    # ------------------------------------------------------------------ detection

    def detect(self, frame: RGBDFrame) -> List[Detection2D]:
        mask = frame.instance_mask
        if mask is None:
            raise InputError("no_instance_mask", "the oracle detector needs the simulator's instance image")
        if mask.shape != frame.depth_m.shape:
            raise InputError("size_mismatch", f"instance mask {mask.shape} vs depth {frame.depth_m.shape}")
        if not self._classes:
            raise InputError("no_class_table", "no instance class table received yet")
        # the errors of a frame depend only on (seed, stamp): a run is reproducible whatever else was
        # processed before (a rejected frame, a restart), not only when the same frame sequence repeats
        self._rng = np.random.default_rng([self.config.seed, int(frame.stamp_ns) % (1 << 63)])
        from scipy import ndimage

        cfg = self.config
        h, w = mask.shape
        scale_area = (h * w) / _REF_PIXELS
        scale_len = float(np.sqrt(scale_area))
        erode_r = int(round(cfg.erode_px * scale_len))
        min_area = max(1, int(round(cfg.min_area_px * scale_area)))
        ids = mask if mask.dtype.kind in "iu" else mask.astype(np.int64)
        if ids.min(initial=0) < 0:
            ids = np.where(ids < 0, 0, ids)
        max_id = max(self._classes)
        objects = ndimage.find_objects(ids, max_label=max_id)
        depth = frame.depth_m
        out: List[Detection2D] = []
        self._truth = []
        for iid, cls in self._classes.items():
            if iid <= 0 or iid > len(objects) or objects[iid - 1] is None:
                continue
            sl = objects[iid - 1]
            det = self._detect_instance(iid, cls, sl, ids, depth, (h, w), erode_r, min_area, scale_area)
            if det is not None:
                out.append(det)
                self._truth.append((det, iid))
        for det in self._false_positives(depth, (h, w), scale_len):
            out.append(det)
            self._truth.append((det, -1))
        return out

    def _detect_instance(self, iid: int, cls: str, sl: Tuple[slice, slice], ids: np.ndarray,
                         depth: np.ndarray, shape: Tuple[int, int], erode_r: int, min_area: int,
                         scale_area: float) -> Optional[Detection2D]:
        import cv2

        cfg = self.config
        h, w = shape
        y0, y1 = max(sl[0].start - 1, 0), min(sl[0].stop + 1, h)
        x0, x1 = max(sl[1].start - 1, 0), min(sl[1].stop + 1, w)
        crop = ids[y0:y1, x0:x1] == iid
        area = int(np.count_nonzero(crop))
        if area == 0:
            return None
        dcrop = depth[y0:y1, x0:x1]
        d_obj = dcrop[crop]
        d_obj = d_obj[np.isfinite(d_obj) & (d_obj > 0.0)]
        if d_obj.size == 0:
            return None
        distance = float(np.median(d_obj))
        if distance > cfg.max_range_m:
            return None
        occluded = self._occluded_fraction(crop, dcrop, distance, (y0, y1, x0, x1), shape)
        area_ref = area / scale_area
        p_miss = (cfg.miss_prob_base
                  + cfg.miss_prob_per_m * max(0.0, distance - cfg.miss_free_distance_m)
                  + cfg.miss_prob_occlusion * occluded
                  + cfg.miss_prob_small * max(0.0, 1.0 - area_ref / cfg.small_area_px))
        if self._rng.random() < min(1.0, p_miss):
            return None
        if erode_r > 0:
            k = 2 * erode_r + 1
            crop = cv2.erode(crop.view(np.uint8), np.ones((k, k), np.uint8),
                             borderType=cv2.BORDER_REPLICATE).view(bool)
            area = int(np.count_nonzero(crop))
        if area < min_area:
            return None
        reported = cls
        alike = self._confusions.get(cls)
        if alike and self._rng.random() < cfg.confusion_prob:
            reported = alike[int(self._rng.integers(len(alike)))]
        full = np.zeros(shape, dtype=bool)
        full[y0:y1, x0:x1] = crop
        rows = np.flatnonzero(crop.any(axis=1))
        cols = np.flatnonzero(crop.any(axis=0))
        box = (float(x0 + cols[0]), float(y0 + rows[0]), float(x0 + cols[-1] + 1), float(y0 + rows[-1] + 1))
        score = float(np.clip(self._rng.normal(cfg.score_mean, cfg.score_std), 0.05, 1.0))
        return Detection2D(class_name=reported, score=score, mask=full, box_xyxy=box)

    @staticmethod
    def _occluded_fraction(crop: np.ndarray, dcrop: np.ndarray, distance: float,
                           bounds: Tuple[int, int, int, int], shape: Tuple[int, int]) -> float:
        """Share of the mask's outer ring that is nearer than the object or off the image."""
        import cv2

        y0, y1, x0, x1 = bounds
        h, w = shape
        ring = cv2.dilate(crop.view(np.uint8), np.ones((3, 3), np.uint8)).view(bool) & ~crop
        near = ring & (dcrop < distance - _OCCLUDER_MARGIN_M)   # NaN compares False: not an occluder
        n_ring = int(np.count_nonzero(ring))
        n_near = int(np.count_nonzero(near))
        # the mask touching the image border: the outside is unknown, count it as occluding
        border = 0
        if y0 == 0:
            border += int(np.count_nonzero(crop[0]))
        if y1 == h:
            border += int(np.count_nonzero(crop[-1]))
        if x0 == 0:
            border += int(np.count_nonzero(crop[:, 0]))
        if x1 == w:
            border += int(np.count_nonzero(crop[:, -1]))
        total = n_ring + border
        return (n_near + border) / total if total else 0.0

    def _false_positives(self, depth: np.ndarray, shape: Tuple[int, int], scale_len: float
                         ) -> List[Detection2D]:
        cfg = self.config
        if cfg.false_positive_rate <= 0.0 or not self._fp_classes:
            return []
        h, w = shape
        out: List[Detection2D] = []
        for _ in range(int(self._rng.poisson(cfg.false_positive_rate))):
            bw = int(self._rng.integers(max(4, int(20 * scale_len)), max(5, int(80 * scale_len)) + 1))
            bh = int(self._rng.integers(max(4, int(20 * scale_len)), max(5, int(80 * scale_len)) + 1))
            bw, bh = min(bw, w), min(bh, h)
            x0 = int(self._rng.integers(0, w - bw + 1))
            y0 = int(self._rng.integers(0, h - bh + 1))
            full = np.zeros(shape, dtype=bool)
            full[y0:y0 + bh, x0:x0 + bw] = True
            cls = self._fp_classes[int(self._rng.integers(len(self._fp_classes)))]
            score = float(np.clip(self._rng.normal(cfg.false_positive_score_mean, 0.1), 0.05, 1.0))
            out.append(Detection2D(class_name=cls, score=score, mask=full,
                                   box_xyxy=(float(x0), float(y0), float(x0 + bw), float(y0 + bh))))
        return out

    # ------------------------------------------------------------------ scorers only

    def scorer_truth(self, detections: Sequence[Detection2D]) -> List[int]:
        """For scorers only: the true instance id behind each detection of the LAST frame (-1 for a false
        positive). The pipeline never calls this. Raises KeyError for a detection not from that frame."""
        table = {id(d): iid for d, iid in self._truth}
        return [table[id(d)] for d in detections]

    def true_class(self, instance_id: int) -> str:
        """For scorers only: the class of an instance in the class table ('' for a false positive)."""
        return self._classes.get(int(instance_id), "")
