"""Data association: which observation of a frame is which object track (optimal assignment).

Cost of pairing observation i with track j (only inside the track's gate):
    w_d * min(d_ij / gate_j, 1) + w_c * (1 - class_sim) + w_col * colour_dist + w_app * (1 - appearance_cos)
The gate: the centroid within gate_j of the track's position, OR the observation's box lying mostly
inside the track's merged extent (``inside_ij`` >= extent_gate_overlap: a part of a large object seen
before from elsewhere; its centroid may be far from the track's). Class similarity comes from the
vocabulary (1 for the same canonical class, high for a kind of it); pairs below min_class_similarity
never match, except near classes (``near(a, b)``: table / desk, which detectors confuse) whose box lies
inside the track's extent (inside_ij >= near_class_overlap): they vote within one track. Pairs further
apart in colour than max_color_distance never match. (A confused detection starts a tentative track,
which the core absorbs into a neighbour of comparable size it overlaps.)

Boxes are axis-aligned map-frame (min (3,), max (3,)) in metres; ``inside_fraction`` is the share of
the first box's volume inside the second (sides under 2 cm count as 2 cm, so flat boxes have a volume).
"""
from __future__ import annotations

import math
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..common.geometry import pair_distances3
from .class_pairs import ClassPairs
from .config import AssociationConfig

_INFEASIBLE = 1e6
_MIN_SIDE_M = 0.02
_SQRT3 = math.sqrt(3.0)


def _padded(lo: np.ndarray, hi: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Boxes (..., 3) with every side at least _MIN_SIDE_M (grown about their centre)."""
    pad = np.maximum(_MIN_SIDE_M - (hi - lo), 0.0) / 2.0
    return lo - pad, hi + pad


padded_boxes = _padded


def inside_fraction(a_min: np.ndarray, a_max: np.ndarray, b_min: np.ndarray, b_max: np.ndarray) -> np.ndarray:
    """Share of each box a's volume inside box b; a (n, 3), b (m, 3) -> (n, m) in [0, 1]."""
    a_lo, a_hi = _padded(np.asarray(a_min, float).reshape(-1, 3), np.asarray(a_max, float).reshape(-1, 3))
    b_lo, b_hi = _padded(np.asarray(b_min, float).reshape(-1, 3), np.asarray(b_max, float).reshape(-1, 3))
    # per axis (no (n, m, 3) temporaries), the products in np.prod's order: the same values, bit for bit
    inter = None
    for k in range(3):
        side = np.minimum(a_hi[:, None, k], b_hi[None, :, k]) - np.maximum(a_lo[:, None, k], b_lo[None, :, k])
        side = np.maximum(side, 0.0)
        inter = side if inter is None else inter * side
    a_side = a_hi - a_lo
    return inter / (a_side[:, 0] * a_side[:, 1] * a_side[:, 2])[:, None]


def box_volume(lo: np.ndarray, hi: np.ndarray) -> float:
    a, b = _padded(np.asarray(lo, float), np.asarray(hi, float))
    return float(np.prod(b - a))


def color_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean RGB distance scaled to [0, 1] (sqrt of the dot, as np.linalg.norm computes it)."""
    v = np.asarray(a, float) - np.asarray(b, float)
    return math.sqrt(v.dot(v)) / _SQRT3


def appearance_cost(a: Optional[np.ndarray], b: Optional[np.ndarray]) -> float:
    """1 - cosine of unit vectors, clipped to [0, 1]; 0 (no penalty) when either is missing."""
    if a is None or b is None or a.shape != b.shape:
        return 0.0
    return float(np.clip(1.0 - float(np.dot(a, b)), 0.0, 1.0))


def associate(cfg: AssociationConfig,
              obs_pos: np.ndarray, obs_cls: Sequence[str], obs_color: np.ndarray,
              obs_app: Sequence[Optional[np.ndarray]],
              trk_pos: np.ndarray, trk_gate: np.ndarray, trk_cls: Sequence[str], trk_color: np.ndarray,
              trk_app: Sequence[Optional[np.ndarray]],
              class_sim: Callable[[str, str], float],
              obs_raw: Optional[Sequence[str]] = None,
              trk_raw_votes: Optional[Sequence[dict]] = None,
              inside: Optional[np.ndarray] = None,
              near: Optional[Callable[[str, str], bool]] = None,
              pairs: Optional[ClassPairs] = None) -> List[Tuple[int, int, float]]:
    """Optimal one-to-one matches [(obs index, track index, cost)] within gates and ``max_cost``.

    obs_pos (n, 3), obs_color (n, 3); trk_pos (m, 3), trk_gate (m,) metres, trk_color (m, 3).
    obs_raw / trk_raw_votes: the detector's own label of each observation and each track's label votes
    (canonical synonyms such as mug / cup are one class, but the detector's label still tells them apart).
    inside (n, m): share of each observation's box inside each track's extent (None: centroid gates only);
    near(a, b): classes a detector confuses (votes within one track when the box lies in the extent).
    pairs: class_sim and near as blocks (the same functions, class_pairs.py), faster than pair by pair.
    """
    n, m = len(obs_pos), len(trk_pos)
    if n == 0 or m == 0:
        return []
    d = pair_distances3(np.asarray(trk_pos, float), np.asarray(obs_pos, float))        # (n, m)
    in_gate = d <= trk_gate[None, :]
    if inside is not None:
        in_gate |= inside >= cfg.extent_gate_overlap
    if not in_gate.any():
        return []
    rows = [int(i) for i in np.flatnonzero(in_gate.any(axis=1))]
    cols = [int(j) for j in np.flatnonzero(in_gate.any(axis=0))]
    # every term as a (rows, cols) array, each element computed as the pair's scalar cost would be
    sub_d = d[np.ix_(rows, cols)]
    sub_gate = trk_gate[cols][None, :]
    ov = np.zeros(sub_d.shape) if inside is None else inside[np.ix_(rows, cols)]
    gated = ~((sub_d > sub_gate) & (ov < cfg.extent_gate_overlap))
    o_cls = [obs_cls[i] for i in rows]
    t_cls = [trk_cls[j] for j in cols]
    if pairs is not None:           # the same values, a block at a time (class_pairs.py)
        oc_codes, tc_codes = pairs.codes(o_cls), pairs.codes(t_cls)
        sim = pairs.sim(oc_codes, tc_codes, gated)
    else:
        sim = np.zeros(sub_d.shape)
        memo: dict = {}
        for a, b in np.argwhere(gated).tolist():
            oc, tc = o_cls[a], t_cls[b]
            key = (oc, tc)
            v = memo.get(key)
            if v is None:
                v = memo[key] = 1.0 if oc == tc else class_sim(oc, tc)
            sim[a, b] = v
    ok = gated & (sim >= cfg.min_class_similarity)
    if pairs is not None and near is not None:
        ok |= pairs.near(oc_codes, tc_codes, gated & ~ok & (ov >= cfg.near_class_overlap))
    elif near is not None:
        for a, b in np.argwhere(gated & ~ok & (ov >= cfg.near_class_overlap)).tolist():
            if near(o_cls[a], t_cls[b]):
                ok[a, b] = True
    # colour distance as color_distance() has it (stacked matmul: the same dot as np.linalg.norm)
    diff = np.ascontiguousarray(np.asarray(obs_color, float)[rows][:, None, :]
                                - np.asarray(trk_color, float)[cols][None, :, :])
    cd = np.sqrt((diff[..., None, :] @ diff[..., :, None])[..., 0, 0]) / np.sqrt(3.0)
    ok &= ~(cd > cfg.max_color_distance)
    app = np.zeros(sub_d.shape)
    if any(x is not None for x in obs_app):
        for a, b in np.argwhere(ok).tolist():
            app[a, b] = appearance_cost(obs_app[rows[a]], trk_app[cols[b]])
    c = (cfg.weight_distance * np.minimum(sub_d / sub_gate, 1.0) + cfg.weight_class * (1.0 - sim)
         + cfg.weight_color * cd + cfg.weight_appearance * app)
    if obs_raw is not None and trk_raw_votes is not None and cfg.weight_label > 0.0:
        totals: dict = {}
        for a, b in np.argwhere(ok).tolist():
            votes = trk_raw_votes[cols[b]]
            total = totals.get(b)
            if total is None:
                total = totals[b] = sum(votes.values())
            if total > 0:
                c[a, b] += cfg.weight_label * (1.0 - votes.get(obs_raw[rows[a]], 0.0) / total)
    cost = np.full(sub_d.shape, _INFEASIBLE)
    keep = ok & (c <= cfg.max_cost)
    cost[keep] = c[keep]
    r, c = linear_sum_assignment(cost)
    out = []
    for a, b in zip(r, c):
        if cost[a, b] < _INFEASIBLE:
            out.append((int(rows[a]), int(cols[b]), float(cost[a, b])))
    return out
