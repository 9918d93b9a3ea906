"""What the benchmark fits, on dev seeds only: the planner's cost of driving (lambda) and its calibration.

1. lambda: for each candidate, the voi agent (and the oracle, for path efficiency) answers the dev
   questions; the chosen lambda has the highest accuracy among those whose path efficiency over the
   questions where it drives is at least ``min_path_efficiency`` (0.7; the overall figure counts every
   question it stays put as 1.0 and would pass an agent that drives badly but rarely; ties: the larger
   lambda, i.e. the shorter paths).
2. calibration: with that lambda, the planner's Calibrator is fitted on the voi agent's raw
   probabilities of its best guesses against whether they were right.

The result goes to bench/laeqa_data/fitted.json; later runs on other seeds apply it (the planner's
``utility.lambda_per_m`` and calibrator). The planner node should load the same values (see README).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from .config import DATA_DIR, LaeqaConfig

FITTED_FILE = DATA_DIR / "fitted.json"
FITTED_VERSION = 1


def load_fitted(path: Path = FITTED_FILE) -> Optional[Dict[str, Any]]:
    if not path.is_file():
        return None
    d = json.loads(path.read_text())
    if d.get("version") != FITTED_VERSION:
        return None
    return d


def fit(cfg: LaeqaConfig, seeds: Sequence[int], days: int, n_questions: int, vocab, lambdas: Sequence[float],
        cache_dir: Optional[Path], min_path_efficiency: float = 0.7, log=print) -> Dict[str, Any]:
    from memory_nodes.planner.calibration import Calibrator

    from .run import run_benchmark, summarize_run
    search: List[Dict[str, Any]] = []
    best = None
    base = dict(cfg.fitted.planner_overrides)
    for lam in lambdas:
        cfg.fitted.planner_overrides = {**base, "utility.lambda_per_m": float(lam)}
        res = run_benchmark(cfg, seeds, days, n_questions, vocab, ("voi", "oracle"), None, cache_dir=cache_dir)
        s = summarize_run(res, cfg)["agents"]["voi"]
        row = {"lambda_per_m": float(lam), "accuracy": s["accuracy"], "path_m": s["path_m"],
               "path_efficiency": s["path_efficiency"], "path_efficiency_driven": s["path_efficiency_driven"],
               "driven_share": s["driven_share"], "raw_brier": s["raw_brier"],
               "base_rate_brier": s["base_rate_brier"]}
        search.append(row)
        driven = s["path_efficiency_driven"]
        log(f"  lambda {lam:g}/m: accuracy {s['accuracy']:.3f}, path {s['path_m']:.1f} m, efficiency "
            f"{s['path_efficiency']:.2f} ({'-' if driven is None else f'{driven:.2f}'} over the "
            f"{100 * (s['driven_share'] or 0):.0f}% driven), raw Brier {s['raw_brier']} vs base rate "
            f"{s['base_rate_brier']}")
        ok = driven is None or driven >= min_path_efficiency
        key = (ok, s["accuracy"] or 0.0, lam)
        if best is None or key > best[0]:
            best = (key, lam, res)
    lam = best[1]
    cfg.fitted.planner_overrides = {**base, "utility.lambda_per_m": float(lam)}
    res = best[2]
    rows = [(r.question.seed, r.reply.raw_probability, bool(r.guess_correct), r.reply.query_kind)
            for r in res.records if r.agent == "voi" and r.reply.raw_probability is not None]
    from .metrics import base_rate_brier, brier
    raw_b = brier([r[1] for r in rows], [r[2] for r in rows])
    base_b = base_rate_brier([r[2] for r in rows])
    log(f"  raw Brier of the chosen lambda's {len(rows)} voi answers {raw_b:.3f} vs always the base rate "
        f"{base_b:.3f}")
    variant, cv = choose_calibration(rows, cfg.scoring.ece_bins, log)
    cal = Calibrator(**variant).fit([p for _, p, _, _ in rows], [c for _, _, c, _ in rows],
                                    [k for _, _, _, k in rows])
    return {"version": FITTED_VERSION, "fitted_on_seeds": list(seeds), "days": days, "questions": n_questions,
            "planner_overrides": {"utility.lambda_per_m": float(lam)}, "lambda_search": search,
            "calibration_samples": len(rows), "calibration_variant": variant, "calibration_cv": cv,
            "raw_brier": round(raw_b, 4), "base_rate_brier": round(base_b, 4), "min_path_efficiency_driven":
            min_path_efficiency,
            "calibrator": cal.to_dict()}


CALIBRATION_VARIANTS = (
    {"min_samples_per_kind": 30, "prior_strength": 2.0},          # isotonic per kind where there is data
    {"min_samples_per_kind": 10 ** 9, "prior_strength": 2.0},     # isotonic, one map for every kind
    {"min_samples_per_kind": 10 ** 9, "prior_strength": 50.0},    # one map, shrunk towards the raw values
    # Platt scaling (2 parameters, so little to overfit to one home), with or without per-kind intercept
    # offsets shrunk towards zero (kind_offset_strength pseudo-samples)
    {"method": "platt", "prior_strength": 0.0},
    {"method": "platt", "prior_strength": 2.0},
    {"method": "platt", "prior_strength": 10.0},
    {"method": "platt", "prior_strength": 2.0, "kind_offset_strength": 20.0},
    {"method": "platt", "prior_strength": 2.0, "kind_offset_strength": 50.0},
    {"method": "platt", "prior_strength": 2.0, "kind_offset_strength": 200.0},
)


def choose_calibration(rows, n_bins: int, log=print):
    """The calibrator variant with the lowest ECE on a held-out dev home (leave one home out), so what is
    chosen is what transfers to homes it was not fitted on."""
    from memory_nodes.planner.calibration import Calibrator

    from .metrics import ece
    seeds = sorted({r[0] for r in rows})
    results = []
    for v in CALIBRATION_VARIANTS:
        errs = []
        for s in seeds:
            train = [r for r in rows if r[0] != s]
            test = [r for r in rows if r[0] == s]
            if not train or not test:
                continue
            cal = Calibrator(**v).fit([r[1] for r in train], [r[2] for r in train], [r[3] for r in train])
            errs.append(ece([cal.apply(r[1], r[3]) for r in test], [r[2] for r in test], n_bins))
        raw = [ece([r[1] for r in rows if r[0] == s], [r[2] for r in rows if r[0] == s], n_bins) for s in seeds]
        m = sum(errs) / len(errs) if errs else float("inf")
        results.append({"variant": v, "held_out_ece": round(m, 4), "raw_ece": round(sum(raw) / len(raw), 4)})
        log(f"  calibration {v}: held-out-home ECE {m:.3f} (raw {sum(raw) / len(raw):.3f})")
    best = min(results, key=lambda r: r["held_out_ece"])
    return best["variant"], results
