"""Calibration of reported probabilities: identity by default; fit on dev data, apply at answer time.

``Calibrator.fit(probs, correct, kinds)`` learns a monotone map (isotonic regression by pool-adjacent-
violators, smoothed towards the overall map for kinds with few samples); ``apply(p, kind)`` maps a raw
probability. ``to_dict`` / ``from_dict`` store it (plain JSON-able data).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

FORMAT_VERSION = 1


def _isotonic(x: np.ndarray, y: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Pool-adjacent-violators: knots (x, y) of the non-decreasing least-squares fit."""
    order = np.argsort(x, kind="mergesort")
    xs, ys = x[order], y[order].astype(float)
    blocks: List[List[float]] = []      # [sum_y, n, x_min, x_max]
    for xi, yi in zip(xs, ys):
        blocks.append([yi, 1.0, xi, xi])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            s, n, a, b = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += n
            blocks[-1][3] = b
    kx, ky = [], []
    for s, n, a, b in blocks:
        kx += [a, b]
        ky += [s / n, s / n]
    return np.asarray(kx), np.asarray(ky)


class Calibrator:
    """Maps raw P(correct) to calibrated P(correct); identity until fitted."""

    def __init__(self, min_samples_per_kind: int = 30, prior_strength: float = 2.0):
        self.min_samples_per_kind = min_samples_per_kind
        self.prior_strength = prior_strength
        self._global: Optional[Tuple[np.ndarray, np.ndarray]] = None
        self._per_kind: Dict[str, Tuple[np.ndarray, np.ndarray]] = {}

    @property
    def fitted(self) -> bool:
        return self._global is not None

    def fit(self, probs: Sequence[float], correct: Sequence[bool], kinds: Optional[Sequence[str]] = None) -> "Calibrator":
        p = np.clip(np.asarray(probs, dtype=float), 0.0, 1.0)
        c = np.asarray(correct, dtype=float)
        if p.shape != c.shape or p.size == 0:
            raise ValueError("fit needs equally long, non-empty probs and correct")
        # shrink the step function towards the diagonal a little (few samples per block)
        self._global = self._fit_one(p, c)
        self._per_kind = {}
        if kinds is not None:
            k = np.asarray(list(kinds))
            for kind in sorted(set(k.tolist())):
                m = k == kind
                if int(m.sum()) >= self.min_samples_per_kind:
                    self._per_kind[kind] = self._fit_one(p[m], c[m])
        return self

    def _fit_one(self, p: np.ndarray, c: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        kx, ky = _isotonic(p, c)
        # Bayesian shrinkage of each knot value towards the raw probability (prior_strength pseudo-samples)
        n = len(p)
        w = n / (n + self.prior_strength)
        return kx, w * ky + (1 - w) * kx

    def apply(self, p: float, kind: str = "") -> float:
        if self._global is None:
            return float(min(1.0, max(0.0, p)))
        kx, ky = self._per_kind.get(kind, self._global)
        return float(np.clip(np.interp(p, kx, ky), 0.0, 1.0))

    def to_dict(self) -> dict:
        def enc(t):
            return None if t is None else [t[0].tolist(), t[1].tolist()]
        return {"version": FORMAT_VERSION, "global": enc(self._global),
                "per_kind": {k: enc(v) for k, v in self._per_kind.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> "Calibrator":
        if d.get("version") != FORMAT_VERSION:
            raise ValueError(f"calibration format version {d.get('version')} is not {FORMAT_VERSION}")
        out = cls()
        g = d.get("global")
        out._global = None if g is None else (np.asarray(g[0]), np.asarray(g[1]))
        out._per_kind = {k: (np.asarray(v[0]), np.asarray(v[1])) for k, v in d.get("per_kind", {}).items()}
        return out


def load_calibrator(path: str) -> "Calibrator":
    """A Calibrator from a JSON file: either a calibrator's own dict or a benchmark fit holding one under
    ``calibrator`` (bench/laeqa_data/fitted.json). Raises OSError / ValueError with the reason."""
    import json
    with open(path) as f:
        d = json.load(f)
    if not isinstance(d, dict):
        raise ValueError(f"{path}: not a JSON object")
    return Calibrator.from_dict(d.get("calibrator", d))
