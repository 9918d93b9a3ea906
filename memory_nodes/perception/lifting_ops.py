"""The per-pixel pieces of lifting both backends share (numpy here; lifting_torch.py batches the same steps as
tensors): the in-box depth foreground, voxel keys and downsampling, the view direction, the robust centre from
extents and the observation record. lifting.py's Lifter and lifting_torch.py's TorchLifting import them, so the
two paths cannot drift (and neither imports the other at module level).
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np

from memory_nodes.common.types import Detection2D, ObjectObservation, RGBDFrame

from .config import LiftingConfig

_KEY_BITS = 21           # per axis in the packed voxel key
_KEY_OFF = 1 << (_KEY_BITS - 1)
_KEY_MASK = (1 << _KEY_BITS) - 1


def depth_foreground(z_m: np.ndarray, width_m_per_z: float, cfg: LiftingConfig) -> np.ndarray:
    """Which of a box's valid depths (1-D, m) are the object: those of the nearest dominant depth mode.

    The depths are binned (``foreground_bin_m``, wider with depth as sensor noise grows), smoothed with
    [1, 2, 1], and split into modes at valleys lower than ``foreground_valley_ratio`` * the lower of the two
    neighbouring peaks. The nearest mode with at least ``foreground_min_fraction`` of the depths is the
    object (none: the largest); its depths are kept, up to ``foreground_depth_factor`` * the box's width
    behind its peak (``width_m_per_z``: the box width in m at 1 m depth), so a floor or table running on
    behind the object is cut where the object can end."""
    n = z_m.size
    if n == 0:
        return np.zeros(0, bool)
    lo = float(z_m.min())
    bin_m = foreground_bin_size(median(z_m), cfg)
    idx = ((z_m - lo) * (1.0 / bin_m)).astype(np.int64)
    start, end, cap = foreground_bins(np.bincount(idx).astype(np.float64), n, lo, bin_m, width_m_per_z, cfg)
    return (idx >= start) & (idx < end) & (z_m <= cap)


def median(a: np.ndarray) -> float:
    """``float(np.median(a))`` of a 1-D float array without NaN (the same value: the middle order statistic,
    or the mean of the two middle ones), by one partial sort without np.median's per-call overhead."""
    n = a.size
    if n == 0:
        raise ValueError("median of an empty array")
    h = n // 2
    if n % 2:
        return float(np.partition(a, h)[h])
    part = np.partition(a, (h - 1, h))
    return float((part[h - 1] + part[h]) / 2.0)


def foreground_bin_size(median_z_m: float, cfg: LiftingConfig) -> float:
    """The depth histogram's bin (m) for depths of this median: wider with depth as sensor noise grows."""
    return cfg.foreground_bin_m * max(1.0, median_z_m / 2.0)


def foreground_bins(hist: np.ndarray, n: int, lo_m: float, bin_m: float, width_m_per_z: float,
                    cfg: LiftingConfig) -> Tuple[int, int, float]:
    """``depth_foreground``'s choice on one box's depth histogram (bins of ``bin_m`` from ``lo_m``; ``n``
    depths): the kept bins [start, end) and the farthest depth kept (m). Shared by both lifting backends."""
    sm = np.convolve(np.concatenate(([0.0], hist, [0.0])), [0.25, 0.5, 0.25], mode="valid")
    left = np.concatenate(([-1.0], sm[:-1]))
    right = np.concatenate((sm[1:], [-1.0]))
    peaks = np.flatnonzero((sm > left) & (sm >= right))
    # modes: [start, end) bin ranges with their peak; neighbouring peaks without a deep valley merge
    modes: List[List[int]] = []
    for p in peaks.tolist():
        if modes:
            q = modes[-1][2]
            v = q + int(np.argmin(sm[q:p + 1]))
            if sm[v] >= cfg.foreground_valley_ratio * min(sm[q], sm[p]):
                modes[-1][2] = q if sm[q] >= sm[p] else p
                continue
            modes[-1][1] = v
            modes.append([v, -1, p])
        else:
            modes.append([0, -1, p])
    modes[-1][1] = hist.size
    mass = [float(hist[a:b].sum()) for a, b, _ in modes]
    chosen = next((i for i, m in enumerate(mass) if m >= cfg.foreground_min_fraction * n),
                  int(np.argmax(mass)))
    start, end, peak = modes[chosen]
    z_peak = lo_m + (peak + 0.5) * bin_m
    cap = z_peak + max(cfg.foreground_depth_factor * width_m_per_z * z_peak, bin_m)
    return start, end, cap


def voxel_downsample(points: np.ndarray, voxel_m: float) -> np.ndarray:
    """(N, 3) -> (M, 3): the mean point of each occupied voxel. Voxels are keyed by one packed int64."""
    if points.shape[0] == 0:
        return points.reshape(0, 3)
    idx = np.floor(points * (1.0 / voxel_m)).astype(np.int64) + _KEY_OFF
    key = (idx[:, 0] & _KEY_MASK) << (2 * _KEY_BITS) | (idx[:, 1] & _KEY_MASK) << _KEY_BITS \
        | (idx[:, 2] & _KEY_MASK)
    _, inv, counts = np.unique(key, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    out = np.empty((counts.size, 3))
    for k in range(3):
        out[:, k] = np.bincount(inv, weights=points[:, k], minlength=counts.size)
    return out / counts[:, None]


def view_direction(mean_rel_xy: np.ndarray) -> np.ndarray:
    """The unit horizontal view direction from the mean camera -> point offset (x forward when straight down)."""
    n = float(np.hypot(mean_rel_xy[0], mean_rel_xy[1]))
    return np.array([1.0, 0.0]) if n < 1e-6 else mean_rel_xy / n


def percentiles(rows: np.ndarray, qs: Tuple[float, ...]) -> np.ndarray:
    """``np.percentile(rows, qs, axis=-1).T`` for a (k, n) array (numpy's default, linear method, the same
    values), by one partial sort of the few ranks needed: np.percentile costs ~100 us a call in overhead,
    and lifting asks for 8 per detection."""
    a = np.asarray(rows, dtype=float)
    n = a.shape[-1]
    if n == 0:
        raise ValueError("percentiles of an empty array")
    pos = [q / 100.0 * (n - 1) for q in qs]
    lo = [min(int(np.floor(x)), n - 1) for x in pos]
    hi = [min(k + 1, n - 1) for k in lo]
    part = np.partition(a, sorted(set(lo + hi)), axis=-1)
    out = np.empty(a.shape[:-1] + (len(qs),))
    for j, (x, k0, k1) in enumerate(zip(pos, lo, hi)):
        v0, v1 = part[..., k0], part[..., k1]
        out[..., j] = v0 + (x - k0) * (v1 - v0)
    return out


def centre_from_extents(cam_m: np.ndarray, d: np.ndarray, along: Tuple[float, float], across: Tuple[float, float],
                        height: Tuple[float, float], cfg: LiftingConfig) -> np.ndarray:
    """The robust centre from the percentile box (along the view ``d``, across it, height; m), the hidden
    back filled in (``hidden_depth_factor``). Shared by both lifting backends."""
    (a_lo, a_hi), (c_lo, c_hi), (z_lo, z_hi) = along, across, height
    depth = max(a_hi - a_lo, cfg.hidden_depth_factor * (c_hi - c_lo))
    a_mid = a_lo + depth / 2.0
    c_mid = (c_lo + c_hi) / 2.0
    xy = cam_m[:2] + a_mid * d + c_mid * np.array([-d[1], d[0]])
    return np.array([xy[0], xy[1], (z_lo + z_hi) / 2.0])


def make_observation(frame: RGBDFrame, det: Detection2D, centroid: np.ndarray, bbox_min: np.ndarray,
                     bbox_max: np.ndarray, n_points: int, colour01: np.ndarray, cam_m: np.ndarray,
                     cloud: Optional[np.ndarray]) -> ObjectObservation:
    """One lifted detection as an ObjectObservation (both backends)."""
    return ObjectObservation(
        stamp_ns=frame.stamp_ns, class_name=det.class_name, score=float(det.score),
        centroid_m=centroid, bbox_min_m=bbox_min, bbox_max_m=bbox_max, num_points=n_points,
        color_rgb=(float(colour01[0]), float(colour01[1]), float(colour01[2])),
        appearance=det.appearance, distance_m=float(np.linalg.norm(centroid - cam_m)), points_m=cloud)
