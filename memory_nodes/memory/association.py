"""Data association: which observation of a frame is which object track (optimal assignment).

Cost of pairing observation i with track j (only inside the track's distance gate):
    w_d * d_ij / gate_j + w_c * (1 - class_sim) + w_col * colour_dist + w_app * (1 - appearance_cos)
Class similarity comes from the vocabulary (1 for the same canonical class, high for a kind of it);
pairs below min_class_similarity, or further apart in colour than max_color_distance, never match. (A
confused detection starts a tentative track, which the core absorbs into the object it sits on.)
"""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
from scipy.optimize import linear_sum_assignment

from .config import AssociationConfig

_INFEASIBLE = 1e6


def color_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean RGB distance scaled to [0, 1]."""
    return float(np.linalg.norm(np.asarray(a, float) - np.asarray(b, float)) / np.sqrt(3.0))


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
              trk_raw_votes: Optional[Sequence[dict]] = None) -> List[Tuple[int, int, float]]:
    """Optimal one-to-one matches [(obs index, track index, cost)] within gates and ``max_cost``.

    obs_pos (n, 3), obs_color (n, 3); trk_pos (m, 3), trk_gate (m,) metres, trk_color (m, 3).
    obs_raw / trk_raw_votes: the detector's own label of each observation and each track's label votes
    (canonical synonyms such as mug / cup are one class, but the detector's label still tells them apart).
    """
    n, m = len(obs_pos), len(trk_pos)
    if n == 0 or m == 0:
        return []
    d = np.linalg.norm(obs_pos[:, None, :] - trk_pos[None, :, :], axis=2)        # (n, m)
    in_gate = d <= trk_gate[None, :]
    if not in_gate.any():
        return []
    rows = [int(i) for i in np.flatnonzero(in_gate.any(axis=1))]
    cols = [int(j) for j in np.flatnonzero(in_gate.any(axis=0))]
    sub_d = d[np.ix_(rows, cols)]
    sub_gate = trk_gate[cols][None, :]
    cost = np.full(sub_d.shape, _INFEASIBLE)
    for a, i in enumerate(rows):
        for b, j in enumerate(cols):
            dij = sub_d[a, b]
            g = sub_gate[0, b]
            if dij > g:
                continue
            s = 1.0 if obs_cls[i] == trk_cls[j] else class_sim(obs_cls[i], trk_cls[j])
            if s < cfg.min_class_similarity:
                continue
            cd = color_distance(obs_color[i], trk_color[j])
            if cd > cfg.max_color_distance:
                continue
            c = (cfg.weight_distance * dij / g + cfg.weight_class * (1.0 - s) + cfg.weight_color * cd
                 + cfg.weight_appearance * appearance_cost(obs_app[i], trk_app[j]))
            if obs_raw is not None and trk_raw_votes is not None and cfg.weight_label > 0.0:
                votes = trk_raw_votes[j]
                total = sum(votes.values())
                if total > 0:
                    c += cfg.weight_label * (1.0 - votes.get(obs_raw[i], 0.0) / total)
            if c <= cfg.max_cost:
                cost[a, b] = c
    r, c = linear_sum_assignment(cost)
    out = []
    for a, b in zip(r, c):
        if cost[a, b] < _INFEASIBLE:
            out.append((int(rows[a]), int(cols[b]), float(cost[a, b])))
    return out
