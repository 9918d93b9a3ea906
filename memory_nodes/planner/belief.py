"""Beliefs over present-tense answers, their Bayes updates from looks, and the expected utility of acting.

Two belief shapes cover the explorable kinds:

* ``LocationBelief``: the target is at exactly one of n location hypotheses, or nowhere findable ("gone").
  where-now and did-it-move questions. A label per hypothesis maps it to an answer (its room, its place,
  "no" for the original spot of a did-move question ...); gone is wrong for every label.
* ``SlotBelief``: n independent presence slots (an instance of a class may be at each). exists / count /
  what-on questions; the answer is a function of which slots are occupied.

A look from a viewpoint sees hypothesis i with visibility vis_i in [0, 1]: P(detected | there) =
vis_i * (1 - miss_rate), P(detected | not there) = vis_i * false_positive_rate.

Decisions: utility +1 correct, -c_wrong wrong, 0 NOT_SURE; so answering label l is worth
P(l) - c_wrong * (1 - P(l)) and the best action is worth max(0, that). ``expected_value_after_look``
gives E_obs[max EU after the Bayes update] for a visibility vector: the first term of VOI.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..common.protocols import Evidence

GONE = "__gone__"


@dataclass
class Hyp:
    """A place the target (or one instance of a class) may be."""
    position_m: np.ndarray               # (3,) map frame
    place_id: int
    room_id: int
    prob: float                          # categorical mass (LocationBelief) or presence (SlotBelief)
    label: str = ""                      # answer label of this hypothesis
    class_name: str = ""
    object_id: str = ""                  # memory track id, "" for prior-only hypotheses
    source: str = "prior"                # "seen" | "habit" | "prior" | "found"
    last_seen_ns: int = 0
    evidence: Evidence = field(default_factory=Evidence)
    receptacle: str = ""                 # the furniture memory saw it on ("" unknown; answers without rooms)
    p_stay_model: float = -1.0           # "seen": the staleness model's P(still there) before the planner's
                                         # online map (what a look verifies); -1 = not a remembered sighting
    half_extent_m: float = 0.0           # how far the surface a look would see lies in front of position_m (a
                                         # spot on a receptacle is its centroid: the furniture is nearer)


def best_eu(p_correct_best: float, c_wrong: float) -> float:
    """max(EU(NOT_SURE)=0, EU(answer best)) for the most probable label's P(correct)."""
    return max(0.0, p_correct_best - c_wrong * (1.0 - p_correct_best))


def _likelihood_terms(vis: np.ndarray, miss: float, fp: float) -> Tuple[np.ndarray, np.ndarray]:
    d = np.clip(vis, 0.0, 1.0) * (1.0 - miss)       # P(det | there)
    f = np.clip(vis, 0.0, 1.0) * fp                 # P(det | not there)
    return d, f


class LocationBelief:
    """Categorical over hypotheses plus a gone mass."""

    def __init__(self, hyps: List[Hyp], p_gone: float):
        self.hyps = hyps
        p = np.array([h.prob for h in hyps], dtype=float)
        total = float(p.sum()) + p_gone
        if total <= 0:
            p_gone, total = 1.0, 1.0
        self.p = p / total
        self.p_gone = p_gone / total
        self._labels: List[str] = []
        self._label_idx = np.zeros(0, dtype=int)
        self.relabel()

    def relabel(self) -> None:
        """Recompute the label index after hypotheses changed."""
        self._labels = sorted({h.label for h in self.hyps})
        index = {lab: i for i, lab in enumerate(self._labels)}
        self._label_idx = np.array([index[h.label] for h in self.hyps], dtype=int)

    # ------------------------------------------------------------------------------- answer side
    def label_probs(self, p: Optional[np.ndarray] = None) -> Dict[str, float]:
        p = self.p if p is None else p
        if not self._labels:
            return {}
        agg = np.bincount(self._label_idx, weights=p, minlength=len(self._labels))
        return {lab: float(v) for lab, v in zip(self._labels, agg)}

    def _best_p(self, p: np.ndarray) -> float:
        if not self._labels:
            return 0.0
        return float(np.bincount(self._label_idx, weights=p, minlength=len(self._labels)).max())

    def max_eu(self, c_wrong: float) -> float:
        return best_eu(self._best_p(self.p), c_wrong)

    # ------------------------------------------------------------------------------------- looks
    def expected_value_after_look(self, vis: np.ndarray, miss: float, fp: float, c_wrong: float,
                                  min_vis: float) -> float:
        """E over outcomes {detected at i (i visible), nothing} of max EU after the update."""
        V = np.nonzero(vis >= min_vis)[0]
        if V.size == 0:
            return self.max_eu(c_wrong)
        d, f = _likelihood_terms(vis, miss, fp)
        p, g = self.p, self.p_gone
        F = float(f[V].sum())
        # outcome "nothing": P(none | j) = 1 - F - [j in V](d_j - f_j); gone: 1 - F
        like_none = np.full(p.shape, max(0.0, 1.0 - F))
        like_none[V] = np.clip(1.0 - F - (d[V] - f[V]), 0.0, 1.0)
        w_none = p * like_none
        pn = float(w_none.sum()) + g * max(0.0, 1.0 - F)
        total = 0.0
        if pn > 0:
            total += pn * best_eu(self._best_p(w_none / pn), c_wrong)
        # outcome "detected at i": P(det_i | j) = f_i + [j == i](d_i - f_i)
        for i in V:
            w = p * f[i]
            w[i] = p[i] * d[i]
            pi = float(w.sum()) + g * f[i]
            if pi > 0:
                total += pi * best_eu(self._best_p(w / pi), c_wrong)
        return total

    def update(self, vis: np.ndarray, detected: np.ndarray, miss: float, fp: float) -> None:
        """Bayes update from one look: ``detected[i]`` says whether the target was detected at hypothesis i
        (a detection matched to it); every visible hypothesis contributes its likelihood."""
        d, f = _likelihood_terms(vis, miss, fp)
        det = detected.astype(bool)
        # per location i, under "target at j": P(obs_i) = (d_i if i == j else f_i) or 1 - that
        base = np.where(det, f, 1.0 - f)                  # obs_i given target not at i
        log_base = np.log(np.clip(base, 1e-12, None))
        own = np.where(det, d, 1.0 - d)                   # obs_j given target at j
        log_l = log_base.sum() - log_base + np.log(np.clip(own, 1e-12, None))
        log_gone = log_base.sum()
        m = max(float(log_l.max()) if log_l.size else log_gone, log_gone)
        w = self.p * np.exp(log_l - m)
        wg = self.p_gone * math.exp(log_gone - m)
        z = float(w.sum()) + wg
        if z > 0:
            self.p, self.p_gone = w / z, wg / z

    def add(self, hyp: Hyp, prob: float) -> int:
        """Add a hypothesis with mass ``prob`` taken proportionally from the others; returns its index."""
        scale = 1.0 - prob
        self.p = np.append(self.p * scale, prob)
        self.p_gone *= scale
        self.hyps.append(hyp)
        self.relabel()
        return len(self.hyps) - 1


class SlotBelief:
    """Independent presence slots; the answer is a function of which slots are occupied.

    ``answer_fn(q) -> (label probabilities of the best few answers, P(best answer correct))`` where q is
    the presence vector.
    """

    def __init__(self, slots: List[Hyp], answer_fn: Callable[[np.ndarray], Tuple[Dict[str, float], float]],
                 max_enumerated: int = 6):
        self.slots = slots
        self.q = np.clip(np.array([s.prob for s in slots], dtype=float), 0.0, 1.0)
        self.answer_fn = answer_fn
        self.max_enumerated = max_enumerated

    def label_probs(self) -> Dict[str, float]:
        return self.answer_fn(self.q)[0]

    def max_eu(self, c_wrong: float) -> float:
        return best_eu(self.answer_fn(self.q)[1], c_wrong)

    def expected_value_after_look(self, vis: np.ndarray, miss: float, fp: float, c_wrong: float,
                                  min_vis: float) -> float:
        V = [int(i) for i in np.argsort(-vis) if vis[i] >= min_vis][: self.max_enumerated]
        if not V:
            return self.max_eu(c_wrong)
        d, f = _likelihood_terms(vis, miss, fp)
        q = self.q
        p_det = q[V] * d[V] + (1 - q[V]) * f[V]
        post_det = np.where(p_det > 0, q[V] * d[V] / np.maximum(p_det, 1e-12), q[V])
        p_not = 1.0 - p_det
        post_not = np.where(p_not > 0, q[V] * (1 - d[V]) / np.maximum(p_not, 1e-12), q[V])
        total = 0.0
        for pattern in itertools.product((0, 1), repeat=len(V)):
            pat = np.array(pattern, dtype=bool)
            prob = float(np.prod(np.where(pat, p_det, p_not)))
            if prob <= 1e-9:
                continue
            qq = q.copy()
            qq[V] = np.where(pat, post_det, post_not)
            total += prob * best_eu(self.answer_fn(qq)[1], c_wrong)
        return total

    def update(self, vis: np.ndarray, detected: np.ndarray, miss: float, fp: float) -> None:
        d, f = _likelihood_terms(vis, miss, fp)
        det = detected.astype(bool)
        q = self.q
        num = np.where(det, q * d, q * (1 - d))
        den = num + np.where(det, (1 - q) * f, (1 - q) * (1 - f))
        self.q = np.where(den > 0, num / np.maximum(den, 1e-12), q)

    def add(self, slot: Hyp, prob: float) -> int:
        self.slots.append(slot)
        self.q = np.append(self.q, prob)
        return len(self.slots) - 1


def poisson_binomial(q: Union[Sequence[float], np.ndarray]) -> np.ndarray:
    """PMF of the number of occupied slots (len(q) + 1 entries)."""
    pmf = np.zeros(len(q) + 1)
    pmf[0] = 1.0
    for k, qi in enumerate(q):
        pmf[1:k + 2] = pmf[1:k + 2] * (1 - qi) + pmf[0:k + 1] * qi
        pmf[0] *= (1 - qi)
    return pmf
