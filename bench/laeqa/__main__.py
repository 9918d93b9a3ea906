"""python -m bench.laeqa [--quick] [--seed N ...] [--days D] [--questions Q] [--json PATH] [--out DIR]
                        [--fit] [--agents a,b,...] [--no-cache] [--questions-json PATH]

Prints the LA-EQA table (markdown) and the goals with PASS/FAIL. Full run: the config's test seeds x
full_days x full_questions; --quick: one home (run.quick_seed), quick_days, quick_questions. --seed picks
the homes (any seed not in run.dev_seeds is a fresh test split). --fit runs on the dev seeds only: it
chooses the planner's lambda and fits its calibration (bench/laeqa_data/fitted.json, see fit.py); later
runs on other seeds apply them to the planner agents.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .config import REPO_ROOT, load_laeqa_config


def _parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.laeqa", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one home, few days and questions (under a minute)")
    ap.add_argument("--seed", type=int, nargs="+", help="home seeds (default: config run.test_seeds / quick_seed)")
    ap.add_argument("--days", type=int, help="days of patrol before the questions")
    ap.add_argument("--questions", type=int, help="questions in all")
    ap.add_argument("--json", type=Path, help="write the summary JSON here")
    ap.add_argument("--out", type=Path, help="write table.md and accuracy_vs_path.png here")
    ap.add_argument("--questions-json", type=Path, help="write every question and reply here")
    ap.add_argument("--agents", type=str, help="comma-separated subset of agents")
    ap.add_argument("--fit", action="store_true", help="fit lambda and calibration on the dev seeds, save them")
    ap.add_argument("--lambdas", type=str, default="0.001,0.003,0.01,0.03", help="--fit: lambda candidates (/m)")
    ap.add_argument("--no-cache", action="store_true", help="do not read or write the perception cache")
    ap.add_argument("--config", type=Path, help="config file (default config/laeqa.yaml)")
    ap.add_argument("--rendered", action="store_true",
                    help="build memory from rendered frames through the product's perception pipeline "
                         "(observation.model: rendered; ~50 ms a frame, ~1,000 frames a patrol day) instead of "
                         "the visibility model")
    return ap.parse_args(argv)


def fit_refusal(seeds, dev_seeds) -> str:
    """Why --fit must not run on these seeds ("" when it may): fitting happens on dev seeds only."""
    bad = [s for s in seeds if s not in dev_seeds]
    return f"--fit only on dev seeds {list(dev_seeds)}; refusing {bad}" if bad else ""


def fitted_for_run(fitted, seeds, dev_seeds, in_sample: bool = False):
    """(calibrator or None, planner overrides, what was applied in words, refusal or "") for a run on
    ``seeds``. A fit is never applied to a seed it was fitted on (those numbers would be contaminated;
    ``in_sample`` allows it for the report right after --fit, which says so), nor at all when it was fitted
    on anything but dev seeds."""
    none = (None, {}, "none (planner defaults)")
    if fitted is None:
        return (*none, "")
    on = set(fitted.get("fitted_on_seeds", []))
    if not on or not on <= set(dev_seeds):
        return (*none, f"the fitted values were fitted on non-dev seeds {sorted(on - set(dev_seeds))}: not applied")
    if on & set(seeds) and not in_sample:
        return (*none, "the fitted values were fitted on some of these seeds: not applied")
    from memory_nodes.planner.calibration import Calibrator
    overrides = dict(fitted.get("planner_overrides", {}))
    applied = (f"fitted on dev seeds {fitted['fitted_on_seeds']}: calibration, "
               + ", ".join(f"{k}={v:g}" for k, v in overrides.items())
               + (" (in-sample: applied to the seeds it was fitted on)" if on & set(seeds) else ""))
    return Calibrator.from_dict(fitted["calibrator"]), overrides, applied, ""


def main(argv=None) -> int:
    t_start = time.perf_counter()
    args = _parse_args(argv)
    cfg = load_laeqa_config(args.config)
    if args.rendered:
        cfg.observation.model = "rendered"
    rc = cfg.run
    if args.fit:
        seeds = args.seed or rc.dev_seeds
        refusal = fit_refusal(seeds, rc.dev_seeds)
        if refusal:
            print(refusal, file=sys.stderr)
            return 2
    else:
        seeds = args.seed or ([rc.quick_seed] if args.quick else rc.test_seeds)
    days = args.days or (rc.quick_days if args.quick else rc.full_days)
    nq = args.questions or (rc.quick_questions if args.quick else rc.full_questions)
    from .agents import AGENTS
    agents = [a.strip() for a in args.agents.split(",")] if args.agents else list(cfg.agents.run)
    unknown = [a for a in agents if a not in AGENTS]
    if unknown:
        print(f"unknown agent(s) {unknown}; known: {list(AGENTS)}", file=sys.stderr)
        return 2
    cache_dir = None if (args.no_cache or not rc.cache_dir) else (REPO_ROOT / rc.cache_dir)

    from memory_nodes.vocab.vocabulary import default_vocabulary

    from .report import goals_check, markdown_table, plot
    from .run import run_benchmark, summarize_run
    vocab = default_vocabulary()
    if args.fit:
        from .fit import FITTED_FILE, fit
        lambdas = [float(x) for x in args.lambdas.split(",") if x.strip()]
        print(f"fitting on dev seeds {list(seeds)} ({days} days, {nq} questions): lambda in {lambdas}")
        fitted = fit(cfg, seeds, days, nq, vocab, lambdas, cache_dir)
        FITTED_FILE.write_text(json.dumps(fitted, indent=1))
        print(f"chose lambda {fitted['planner_overrides']['utility.lambda_per_m']:g}/m; calibration from "
              f"{fitted['calibration_samples']} answers -> {FITTED_FILE}")
    from .fit import load_fitted
    calibrator, overrides, applied, refusal = fitted_for_run(load_fitted(), seeds, rc.dev_seeds,
                                                                  in_sample=args.fit)
    if refusal:
        print(refusal, file=sys.stderr)
    cfg.fitted.planner_overrides = {**cfg.fitted.planner_overrides, **overrides}
    min_oos = cfg.generator.min_out_of_scope_full if nq >= rc.full_questions else 0
    res = run_benchmark(cfg, seeds, days, nq, vocab, agents, calibrator, cache_dir=cache_dir,
                        min_out_of_scope=min_oos)
    summary = summarize_run(res, cfg)
    wall = time.perf_counter() - t_start
    summary["wall_time_s"] = round(wall, 2)
    summary["split"] = "dev" if set(seeds) <= set(rc.dev_seeds) else "test"
    summary["fitted"] = applied
    table = markdown_table(summary, wall)
    goals = goals_check(summary)
    summary["goals"] = goals
    print(table)
    print("")
    for g in goals:
        print(g)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=1, sort_keys=True))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "table.md").write_text(table + "\n\n" + "\n".join(goals) + "\n")
        if rc.plot:
            plot(summary, args.out / "accuracy_vs_path.png")
    if args.questions_json:
        rows = []
        for r in res.records:
            q = r.question.to_json()
            q.update({"agent": r.agent, "correct": r.correct, "guess_correct": r.guess_correct,
                      "status": r.reply.status, "probability": r.reply.probability,
                      "raw_probability": r.reply.raw_probability, "looks": r.reply.looks, "path_m": r.reply.path_m,
                      "query_kind": r.reply.query_kind, "text_reply": r.reply.text, "parse_ok": r.reply.parse_ok,
                      "parse_confidence": r.reply.parse_confidence})
            rows.append(q)
        args.questions_json.write_text(json.dumps(rows, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
