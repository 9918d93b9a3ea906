"""Staleness: P(an object is still where it was last seen | time elapsed, absences since).

Moves of an object are a Poisson process with rate lambda (per day); lambda ~ Gamma(alpha, beta).
The prior comes from the object's vocabulary category, is updated by the class's history (moves and
exposure of all its objects, weight capped so old classes do not drown individual habits), then by the
object's own history. With Gamma uncertainty, P(no move in dt days) = (beta / (beta + dt)) ** alpha.
Absences (visible but not detected) are likelihood terms: each is m = P(miss | there) against 1 if gone.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

from .config import NS_PER_DAY, StalenessConfig


@dataclass
class MoveStats:
    moves: float = 0.0
    exposure_days: float = 0.0


def class_posterior(cfg: StalenessConfig, category: str, stats: MoveStats) -> Tuple[float, float]:
    """(alpha, beta) of the class's move rate (per day) after its history."""
    rate = cfg.prior_rate_per_day.get(category, cfg.prior_rate_per_day.get("small", 0.5))
    beta0 = cfg.prior_strength_days
    return rate * beta0 + stats.moves, beta0 + stats.exposure_days


def object_prior(cfg: StalenessConfig, alpha_c: float, beta_c: float) -> Tuple[float, float]:
    """The class posterior as an object's prior, with its weight capped at class_weight_cap_days."""
    if beta_c > cfg.class_weight_cap_days:
        k = cfg.class_weight_cap_days / beta_c
        return alpha_c * k, cfg.class_weight_cap_days
    return alpha_c, beta_c


def p_no_move(alpha: float, beta: float, elapsed_ns: int) -> float:
    """P(no move during elapsed) under Gamma(alpha, beta)-Poisson (Lomax survival)."""
    if elapsed_ns <= 0:
        return 1.0
    dt = elapsed_ns / NS_PER_DAY
    return float((beta / (beta + dt)) ** alpha)


def with_absences(p_stay: float, absences: int, miss_prob: float, unexplained_change_prob: float = 0.1) -> float:
    """Posterior P(there) after ``absences`` independent non-detections while visible. When the evidence
    contradicts the prior, the prior is capped at 1 - unexplained_change_prob (people move things the
    move-rate model did not expect), so a few clear absences can overturn even a fresh sighting."""
    if absences <= 0:
        return p_stay
    p_stay = min(p_stay, 1.0 - unexplained_change_prob)
    like = miss_prob ** absences
    num = p_stay * like
    den = num + (1.0 - p_stay)
    return float(num / den) if den > 0 else 0.0
