"""Calibration of reported probabilities: identity by default; fit on dev data, apply at answer time.

``Calibrator.fit(probs, correct, kinds)`` learns a monotone map; ``apply(p, kind)`` maps a raw probability.
Two methods:

- ``isotonic``: a step map by pool-adjacent-violators (per kind where a kind has ``min_samples_per_kind``
  answers), each knot shrunk towards the raw value by ``prior_strength`` pseudo-samples. Flexible, so it
  also learns the quirks of the homes it was fitted on.
- ``platt``: logistic regression on logit(p), ``q = sigmoid(a * logit(p) + b + d_kind)``: two parameters
  plus, if ``kind_offset_strength`` is finite, one intercept offset per kind, each pulled towards zero by
  a Gaussian prior with ``kind_offset_strength`` pseudo-samples' weight (kinds with few answers keep the
  global map). ``a`` and ``b`` carry a weak prior (``prior_strength``) towards the identity (a=1, b=0).

``to_dict`` / ``from_dict`` store it (plain JSON-able data, with a format version; version 1 files, which
are isotonic, still load).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

FORMAT_VERSION = 2
_READABLE_VERSIONS = (1, 2)
METHODS = ("isotonic", "platt")
_EPS = 1e-4          # raw probabilities are clipped to [_EPS, 1 - _EPS] before the logit


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1.0 - _EPS)
    return np.log(p / (1.0 - p))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -500.0, 500.0)))


def _logistic(x: np.ndarray, c: np.ndarray, prior_mean: np.ndarray, prior_prec: np.ndarray,
              offset: Optional[np.ndarray] = None, iters: int = 50) -> np.ndarray:
    """MAP weights w of P(c=1) = sigmoid(x @ w + offset) under a Gaussian prior N(prior_mean, 1/prior_prec)
    per weight (Newton's method; x is (n, d), c in {0, 1})."""
    n, d = x.shape
    off = np.zeros(n) if offset is None else offset

    def loss(w: np.ndarray) -> float:
        z = x @ w + off
        return float(np.sum(np.logaddexp(0.0, z) - c * z) + 0.5 * np.sum(prior_prec * (w - prior_mean) ** 2))

    w = prior_mean.astype(float).copy()
    cur = loss(w)
    for _ in range(iters):
        q = _sigmoid(x @ w + off)
        g = x.T @ (q - c) + prior_prec * (w - prior_mean)
        h = (x * (q * (1 - q))[:, None]).T @ x + np.diag(prior_prec + 1e-6)
        step = np.linalg.solve(h, g)
        t = 1.0
        while t > 1e-6 and loss(w - t * step) > cur:       # damped: never let the loss rise
            t *= 0.5
        w = w - t * step
        new = loss(w)
        if cur - new < 1e-12:
            break
        cur = new
    return w


def _isotonic(x: np.ndarray, y: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pool-adjacent-violators: knots (x, y) of the non-decreasing least-squares fit, and each knot's
    block size (the samples pooled into its step)."""
    xs, inv = np.unique(x, return_inverse=True)          # tied raw values are one point (their mean)
    sums = np.bincount(inv, weights=np.asarray(y, dtype=float), minlength=len(xs))
    counts = np.bincount(inv, minlength=len(xs)).astype(float)
    blocks: List[List[float]] = []      # [sum_y, n, x_min, x_max]
    for xi, si, ni in zip(xs, sums, counts):
        blocks.append([si, ni, xi, xi])
        # pool violators, and equal neighbours too: one step, so its count is all the samples it rests on
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] >= blocks[-1][0] / blocks[-1][1]:
            s, n, a, b = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += n
            blocks[-1][3] = b
    kx, ky, kn = [], [], []
    for s, n, a, b in blocks:
        kx += [a, b]
        ky += [s / n, s / n]
        kn += [n, n]
    return np.asarray(kx), np.asarray(ky), np.asarray(kn)


class Calibrator:
    """Maps raw P(correct) to calibrated P(correct); identity until fitted."""

    def __init__(self, min_samples_per_kind: int = 30, prior_strength: float = 2.0, method: str = "isotonic",
                 kind_offset_strength: Optional[float] = None):
        if method not in METHODS:
            raise ValueError(f"calibration method {method!r} is not one of {METHODS}")
        if prior_strength < 0 or (kind_offset_strength is not None and kind_offset_strength <= 0):
            raise ValueError("prior_strength must be >= 0 and kind_offset_strength > 0 (or None)")
        self.method = method
        self.min_samples_per_kind = min_samples_per_kind
        self.prior_strength = prior_strength
        self.kind_offset_strength = kind_offset_strength
        self._global: Optional[Tuple[np.ndarray, np.ndarray]] = None       # isotonic knots
        self._per_kind: Dict[str, Tuple[np.ndarray, np.ndarray]] = {}
        self._platt: Optional[Tuple[float, float]] = None                  # (slope a, intercept b)
        self._offsets: Dict[str, float] = {}                               # platt: intercept offset per kind

    @property
    def fitted(self) -> bool:
        return self._global is not None or self._platt is not None

    def fit(self, probs: Sequence[float], correct: Sequence[bool],
            kinds: Optional[Sequence[str]] = None) -> "Calibrator":
        p = np.clip(np.asarray(probs, dtype=float), 0.0, 1.0)
        c = np.asarray(correct, dtype=float)
        if p.shape != c.shape or p.size == 0:
            raise ValueError("fit needs equally long, non-empty probs and correct")
        if self.method == "platt":
            return self._fit_platt(p, c, kinds)
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

    def _fit_platt(self, p: np.ndarray, c: np.ndarray, kinds: Optional[Sequence[str]]) -> "Calibrator":
        z = _logit(p)
        x = np.stack([z, np.ones_like(z)], axis=1)
        prec = np.full(2, self.prior_strength * 0.25)      # pseudo-samples x the logistic's curvature at 1/2
        a, b = _logistic(x, c, np.array([1.0, 0.0]), prec)
        self._platt = (float(a), float(b))
        self._global, self._per_kind, self._offsets = None, {}, {}
        if kinds is not None and self.kind_offset_strength is not None:
            k = np.asarray(list(kinds))
            names = sorted(set(k.tolist()))
            onehot = (k[:, None] == np.asarray(names)[None, :]).astype(float)
            d = _logistic(onehot, c, np.zeros(len(names)), np.full(len(names), self.kind_offset_strength * 0.25),
                          offset=a * z + b)
            self._offsets = {n: float(v) for n, v in zip(names, d)}
        return self

    def _fit_one(self, p: np.ndarray, c: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        kx, ky, kn = _isotonic(p, c)
        # Bayesian shrinkage of each knot value towards the raw probability by prior_strength pseudo-samples
        # against its own block's count: a step resting on 3 answers moves little from the raw value, one
        # resting on 300 follows them (the total count would let a block of one answer read 0 or 1)
        w = kn / (kn + self.prior_strength)
        ky = w * ky + (1 - w) * kx
        # the shrunk knots need not be monotone (each block is pulled towards a different raw value)
        return kx, np.maximum.accumulate(ky)

    def apply(self, p: float, kind: str = "") -> float:
        if self._platt is not None:
            a, b = self._platt
            z = a * float(_logit(np.asarray(p, dtype=float))) + b + self._offsets.get(kind, 0.0)
            return float(_sigmoid(np.asarray(z)))
        if self._global is None:
            return float(min(1.0, max(0.0, p)))
        kx, ky = self._per_kind.get(kind, self._global)
        return float(np.clip(np.interp(p, kx, ky), 0.0, 1.0))

    def to_dict(self) -> dict:
        def enc(t):
            return None if t is None else [t[0].tolist(), t[1].tolist()]
        return {"version": FORMAT_VERSION, "method": self.method, "global": enc(self._global),
                "per_kind": {k: enc(v) for k, v in self._per_kind.items()},
                "platt": None if self._platt is None else list(self._platt), "kind_offsets": dict(self._offsets)}

    @classmethod
    def from_dict(cls, d: dict) -> "Calibrator":
        if d.get("version") not in _READABLE_VERSIONS:
            raise ValueError(f"calibration format version {d.get('version')} is not one of {_READABLE_VERSIONS}")
        out = cls(method=d.get("method", "isotonic"))
        pl = d.get("platt")
        out._platt = None if pl is None else (float(pl[0]), float(pl[1]))
        out._offsets = {k: float(v) for k, v in (d.get("kind_offsets") or {}).items()}
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


class OnlinePlatt:
    """A probability map the planner refits while it works, from predictions its own looks verified.

    ``q = sigmoid(a * logit(p) + b)``. Each verification is (p, seen, d, f): the planner predicted the
    thing at a spot with probability p, a look had that spot in view, and the thing was seen there or
    not; d = P(detected | there) and f = P(detected | not there) of that look (visibility x the
    detector's miss / false-positive rates), so a miss is not read as "gone". (a, b) is the MAP over a
    fixed grid under a Gaussian prior centred on the prior map (the identity, or a map fitted on dev
    homes) worth ``prior_strength`` pseudo-verifications: with few verifications the map stays near the
    prior, with many it follows what the looks showed. Deterministic (a grid, no random start); refits
    lazily on ``apply`` after new verifications. ``min_p`` / ``max_p`` bound what it learns from and
    maps: 0 and 1 (certain by construction, e.g. a later stay began) pass through unchanged.
    """

    _A = np.linspace(0.1, 3.0, 59)
    _B = np.linspace(-4.0, 4.0, 81)

    def __init__(self, prior_a: float = 1.0, prior_b: float = 0.0, prior_strength: float = 20.0,
                 max_samples: int = 2000):
        if prior_strength <= 0 or max_samples < 1:
            raise ValueError("OnlinePlatt: prior_strength must be > 0 and max_samples >= 1")
        self.prior = (float(prior_a), float(prior_b))
        self.prior_strength = float(prior_strength)
        self.max_samples = int(max_samples)
        self._rows: List[Tuple[float, bool, float, float]] = []
        self._ab = self.prior
        self._dirty = False

    @property
    def n(self) -> int:
        return len(self._rows)

    @property
    def params(self) -> Tuple[float, float]:
        self._refit()
        return self._ab

    def observe(self, p: float, seen: bool, p_detect_if_there: float = 1.0, p_detect_if_not: float = 0.0) -> None:
        """One verified prediction (see the class docstring); uninformative looks (d <= f) are ignored."""
        p = float(p)
        d, f = float(np.clip(p_detect_if_there, 0.0, 1.0)), float(np.clip(p_detect_if_not, 0.0, 1.0))
        if not (_EPS < p < 1.0 - _EPS) or d <= f:
            return
        self._rows.append((p, bool(seen), d, f))
        if len(self._rows) > self.max_samples:
            self._rows = self._rows[-self.max_samples:]
        self._dirty = True

    def _refit(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        rows = np.asarray([(r[0], float(r[1]), r[2], r[3]) for r in self._rows], dtype=float)
        z = _logit(rows[:, 0])
        y, d, f = rows[:, 1], rows[:, 2], rows[:, 3]
        A, B = np.meshgrid(self._A, self._B, indexing="ij")             # (na, nb)
        q = _sigmoid(A[..., None] * z + B[..., None])                   # (na, nb, n) P(there)
        p_det = np.clip(d * q + f * (1.0 - q), 1e-9, 1.0 - 1e-9)
        ll = np.sum(y * np.log(p_det) + (1.0 - y) * np.log(1.0 - p_det), axis=-1)
        a0, b0 = self.prior
        # the prior: prior_strength pseudo-samples x the logistic's curvature at 1/2 (as Calibrator's Platt)
        ll -= 0.5 * self.prior_strength * 0.25 * ((A - a0) ** 2 + (B - b0) ** 2)
        i, j = np.unravel_index(int(np.argmax(ll)), ll.shape)
        self._ab = (float(self._A[i]), float(self._B[j]))

    def apply(self, p: float) -> float:
        p = float(p)
        if not (_EPS < p < 1.0 - _EPS):
            return float(min(1.0, max(0.0, p)))
        if not self._rows and self.prior == (1.0, 0.0):
            return p
        a, b = self.params
        return float(_sigmoid(np.asarray(a * float(_logit(np.asarray(p))) + b)))

    def to_dict(self) -> dict:
        a, b = self.params
        return {"version": FORMAT_VERSION, "method": "online_platt", "params": [a, b], "prior": list(self.prior),
                "prior_strength": self.prior_strength, "verifications": self.n}
