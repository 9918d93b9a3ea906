"""Staleness: P(an object is still where it was last seen | time elapsed, absences since).

Moves of an object are a Poisson process with rate lambda (per day); lambda ~ Gamma(alpha, beta).
The prior comes from the object's vocabulary category, is updated by the class's history (moves and
exposure of all its objects, weight capped so old classes do not drown individual habits), then by the
object's own history. With Gamma uncertainty, P(no move in dt days) = (beta / (beta + dt)) ** alpha.
Absences (visible but not detected) are likelihood terms: each is m = P(miss | there) against 1 if gone.
A spot new to the object (seen there on one day only, after memory's first day) holds it less surely than
one it lives at: things put somewhere new often go back soon. The share of such spots where memory found
the object again on a later day (over every object's record, ``new_spot_share``) multiplies its no-move
odds there until a look tells more (absences).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, List, Sequence, Tuple

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


def new_spot_outcomes(stays: Sequence, since_day: int, missing: bool, gate_m: float) -> Tuple[int, int]:
    """(kept, left) over the spots one object was first seen at after day ``since_day`` (memory's first
    day: what it saw then is where things live, not where they were put), a spot being where none of its
    earlier stays was (within ``gate_m``): kept when memory saw it there again on a later day than it
    arrived, left when not and it was seen elsewhere later (or is missing now); still open otherwise (not
    counted). ``stays`` in time order, each with ``pos`` (m), ``start_ns`` and ``end_ns``."""
    spots: List[List[float]] = []        # x, y, day it arrived, last day seen there, index of its last stay
    for i, x in enumerate(stays):
        for sp in spots:
            if math.hypot(float(x.pos[0]) - sp[0], float(x.pos[1]) - sp[1]) <= gate_m:
                sp[3], sp[4] = max(sp[3], x.end_ns // NS_PER_DAY), i
                break
        else:
            spots.append([float(x.pos[0]), float(x.pos[1]), x.start_ns // NS_PER_DAY, x.end_ns // NS_PER_DAY, i])
    kept = left = 0
    for sp in spots:
        if sp[2] <= since_day:
            continue
        if sp[3] > sp[2]:
            kept += 1
        elif sp[4] < len(stays) - 1 or missing:
            left += 1
    return kept, left


def new_spot_share(tracks: Dict[int, Any], cache: Dict[int, Tuple[tuple, int, int]], gate_m: float,
                   missing_status: str) -> Tuple[float, int]:
    """(P(a thing put at a spot new to it is still there when memory looks again), memory's first day):
    ``new_spot_outcomes`` summed over every track, Beta(1, 1)-smoothed. ``cache`` keeps each track's
    outcomes until its record changes (a stay added or extended, its status) or memory's first day does."""
    first = min((tr.first_seen_ns for tr in tracks.values()), default=0) // NS_PER_DAY
    kept = left = 0
    for tid, tr in tracks.items():
        key = (len(tr.stays), tr.stays[-1].end_ns if tr.stays else 0, tr.status, first)
        hit = cache.get(tid)
        if hit is None or hit[0] != key:
            hit = cache[tid] = (key, *new_spot_outcomes(tr.stays, first, tr.status == missing_status, gate_m))
        kept, left = kept + hit[1], left + hit[2]
    return (kept + 1.0) / (kept + left + 2.0), first
