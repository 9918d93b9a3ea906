"""Metric functions of the benchmark: calibration (Brier, ECE), path efficiency, percentiles, summaries.

All pure functions over lists; nothing here knows about agents or the simulator.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence

import numpy as np


def brier(probs: Sequence[float], outcomes: Sequence[bool]) -> float:
    """Mean squared error of the stated probability against the 0/1 outcome; nan when empty."""
    if len(probs) != len(outcomes):
        raise ValueError("probs and outcomes differ in length")
    if not probs:
        return float("nan")
    p = np.clip(np.asarray(probs, dtype=float), 0.0, 1.0)
    y = np.asarray(outcomes, dtype=float)
    return float(np.mean((p - y) ** 2))


def ece(probs: Sequence[float], outcomes: Sequence[bool], n_bins: int = 10) -> float:
    """Expected calibration error with ``n_bins`` equal-width bins on [0, 1] (right-closed, 0 in the
    first bin): sum over bins of |accuracy - mean confidence| weighted by the bin's share of samples."""
    if len(probs) != len(outcomes):
        raise ValueError("probs and outcomes differ in length")
    if not probs:
        return float("nan")
    p = np.clip(np.asarray(probs, dtype=float), 0.0, 1.0)
    y = np.asarray(outcomes, dtype=float)
    idx = np.clip(np.ceil(p * n_bins).astype(int) - 1, 0, n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        m = idx == b
        if m.any():
            total += m.sum() / len(p) * abs(float(y[m].mean()) - float(p[m].mean()))
    return float(total)


def ece_noise_floor(probs: Sequence[float], n_bins: int = 10, trials: int = 400, seed: int = 0) -> float:
    """Mean ECE of a perfectly calibrated predictor stating these probabilities (outcomes drawn with
    P(correct) = p): what sampling noise alone gives with this many answers."""
    if not probs:
        return float("nan")
    p = np.clip(np.asarray(probs, dtype=float), 0.0, 1.0)
    rng = np.random.default_rng(seed)
    return float(np.mean([ece(list(p), list(rng.random(len(p)) < p), n_bins) for _ in range(trials)]))


def path_efficiency(oracle_path_m: float, path_m: float) -> float:
    """min(1, oracle path / path); a path of zero is fully efficient (nothing was spent)."""
    if path_m <= 1e-9:
        return 1.0
    return float(min(1.0, max(0.0, oracle_path_m) / path_m))


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    return float(np.percentile(np.asarray(values, dtype=float), q))


def mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def set_f1(predicted: Sequence[str], truth: Sequence[str]) -> float:
    """F1 of two sets; two empty sets agree perfectly."""
    a, b = set(predicted), set(truth)
    if not a and not b:
        return 1.0
    if not a or not b:
        return 0.0
    tp = len(a & b)
    if tp == 0:
        return 0.0
    prec, rec = tp / len(a), tp / len(b)
    return 2 * prec * rec / (prec + rec)


def finite_or_none(x: Optional[float], ndigits: int = 4) -> Optional[float]:
    """JSON-safe: nan/inf -> None, else rounded."""
    if x is None or not math.isfinite(x):
        return None
    return round(float(x), ndigits)


def base_rate_brier(outcomes: Sequence[bool]) -> float:
    """Brier of always stating the base rate (the share of outcomes that are true): r * (1 - r), the best
    any constant probability can do on these outcomes; nan when empty."""
    if not outcomes:
        return float("nan")
    r = float(np.mean(np.asarray(outcomes, dtype=float)))
    return r * (1.0 - r)


def std(values: Sequence[float]) -> float:
    return float(np.std(np.asarray(values, dtype=float))) if len(values) else float("nan")


def summarize(correct: List[bool], guess_correct: List[bool], probs: List[Optional[float]],
              not_sure: List[bool], path_m: List[float], efficiency: List[float],
              n_bins: int = 10, raw_probs: Optional[List[Optional[float]]] = None,
              text_room_ok: Optional[List[Optional[bool]]] = None) -> Dict[str, Optional[float]]:
    """The per-agent (or per-category) block of numbers.

    accuracy: NOT_SURE counts as wrong. selective_accuracy: among the questions answered (not NOT_SURE).
    Calibration (brier, ece) scores the stated probability of the best guess against whether the best
    guess is right (a NOT_SURE reply still states a best guess), over the questions that state one.
    raw_brier: the same for the probability before calibration (``raw_probs``; the stated one where an
    agent has no raw one), against base_rate_brier over the same answers: a raw probability that carries
    information scores below the base rate. confidence_std: spread of the stated probabilities.
    path_efficiency_driven: mean path efficiency over the questions where the agent drove (driven_share
    of them; None when it never drove). text_room_mismatch_rate: among replies whose text names a room and
    that carry a position, the share whose position lies outside the named room (``text_room_ok``).
    """
    n = len(correct)
    answered = [c for c, ns in zip(correct, not_sure) if not ns]
    cal = [(p, c) for p, c in zip(probs, guess_correct) if p is not None]
    raw = raw_probs if raw_probs is not None else probs
    raw_cal = [(r if r is not None else p, c) for p, r, c in zip(probs, raw, guess_correct) if p is not None]
    driven = [e for e, m in zip(efficiency, path_m) if m > 1e-9]
    named = [ok for ok in (text_room_ok or []) if ok is not None]
    return {
        "n": n,
        "accuracy": finite_or_none(sum(correct) / n if n else float("nan")),
        "selective_accuracy": finite_or_none(sum(answered) / len(answered) if answered else float("nan")),
        "not_sure_rate": finite_or_none(sum(not_sure) / n if n else float("nan")),
        "path_m": finite_or_none(mean(path_m), 3),
        "path_efficiency": finite_or_none(mean(efficiency)),
        "brier": finite_or_none(brier([p for p, _ in cal], [c for _, c in cal])),
        "ece": finite_or_none(ece([p for p, _ in cal], [c for _, c in cal], n_bins)),
        "ece_noise_floor": finite_or_none(ece_noise_floor([p for p, _ in cal], n_bins)),
        "calibration_n": len(cal),
        "raw_brier": finite_or_none(brier([p for p, _ in raw_cal], [c for _, c in raw_cal])),
        "base_rate_brier": finite_or_none(base_rate_brier([c for _, c in raw_cal])),
        "confidence_std": finite_or_none(std([p for p, _ in cal])),
        "path_efficiency_driven": finite_or_none(mean(driven)) if driven else None,
        "driven_share": finite_or_none(len(driven) / n if n else float("nan")),
        "text_room_mismatch_rate": finite_or_none(sum(not ok for ok in named) / len(named)) if named else 0.0,
        "text_room_named_n": len(named),
    }
