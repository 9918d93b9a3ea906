"""LA-EQA's dev / test guards: --fit refuses test seeds before doing any work, a fit is never applied to
the seeds it was fitted on nor when it was fitted on a test seed, and the config refuses a seed that is
both dev and test (the quick run's home included) or a fit recorded on a non-dev seed."""
from __future__ import annotations

import pytest

from bench.laeqa.__main__ import fit_refusal, fitted_for_run, main
from bench.laeqa.config import LaeqaConfig, laeqa_config_from_params, load_laeqa_config
from memory_nodes.common.errors import ConfigError
from memory_nodes.planner.calibration import Calibrator

DEV = [101, 102, 103]


def _fitted(on):
    cal = Calibrator(method="platt", prior_strength=0.0).fit([0.2, 0.4, 0.6, 0.8, 0.9], [0, 0, 1, 1, 1])
    return {"version": 1, "fitted_on_seeds": list(on), "planner_overrides": {"utility.lambda_per_m": 0.01},
            "calibrator": cal.to_dict()}


def test_fit_refuses_test_seeds_and_accepts_dev_seeds():
    assert "refusing [1]" in fit_refusal([101, 1], DEV)
    assert fit_refusal([101, 103], DEV) == ""


def test_fit_on_a_test_seed_exits_before_building_anything(capsys):
    cfg = LaeqaConfig()
    test_seed = cfg.run.test_seeds[0]
    assert main(["--fit", "--seed", str(test_seed), "--no-cache"]) == 2
    assert f"refusing [{test_seed}]" in capsys.readouterr().err


def test_a_fit_is_applied_to_other_seeds_only():
    cal, over, applied, refusal = fitted_for_run(_fitted(DEV), [1, 2], DEV)
    assert cal is not None and cal.fitted and over == {"utility.lambda_per_m": 0.01} and refusal == ""
    assert "fitted on dev seeds" in applied
    for seeds in ([101], [1, 102]):          # any overlap: nothing applied
        cal, over, applied, refusal = fitted_for_run(_fitted(DEV), seeds, DEV)
        assert cal is None and over == {} and "not applied" in refusal and applied.startswith("none")
    cal, _, applied, refusal = fitted_for_run(_fitted(DEV), [101], DEV, in_sample=True)
    assert cal is not None and "in-sample" in applied and refusal == ""


def test_a_fit_made_on_a_test_seed_is_never_applied():
    for on in ([101, 1], [], [5]):
        cal, over, _, refusal = fitted_for_run(_fitted(on), [2], DEV)
        assert cal is None and over == {} and "non-dev" in refusal
    assert fitted_for_run(None, [2], DEV)[:3] == (None, {}, "none (planner defaults)")


def test_config_refuses_dev_seeds_among_test_seeds_or_the_quick_home():
    for run in ({"dev_seeds": [101, 102], "quick_seed": 102}, {"dev_seeds": [101], "test_seeds": [1, 101]}):
        with pytest.raises(ConfigError, match="both dev and test"):
            laeqa_config_from_params({"run": run})
    shipped = load_laeqa_config()
    assert shipped.run.quick_seed not in shipped.run.dev_seeds
    assert not set(shipped.run.test_seeds) & set(shipped.run.dev_seeds)


def test_config_refuses_a_fit_recorded_on_non_dev_seeds():
    with pytest.raises(ConfigError, match="not dev seeds"):
        laeqa_config_from_params({"run": {"dev_seeds": [101]}, "fitted": {"fitted_on_seeds": [1]}})


def test_fit_picks_lambda_by_efficiency_where_it_drives(monkeypatch):
    """The most accurate lambda is refused when voi drives inefficiently, however often it stays put."""
    import bench.laeqa.run as run_mod
    from bench.laeqa import fit as fit_mod
    from bench.laeqa.questions import Question, Truth
    from bench.laeqa.run import Record, RunResult
    from bench.laeqa.score import ANSWERED, Reply

    # lambda -> (accuracy, overall efficiency, efficiency where it drives)
    figures = {0.001: (0.80, 0.90, 0.40), 0.01: (0.75, 0.85, 0.75), 0.03: (0.70, 0.95, 0.90)}

    def fake_run(cfg, seeds, *a, **k):
        q = Question("q", seeds[0], 0, 0, "present", "where_now", "where is the mug?", "dev", "",
                     Truth("room", 0, "kitchen"), {"kinds": ["where_now"]})
        recs = [Record("voi", Question(**{**q.__dict__, "qid": f"q{i}", "seed": s}),
                       Reply(ANSWERED, query_kind="where_now", probability=p, raw_probability=p), c, c)
                for i, (s, p, c) in enumerate([(101, 0.9, True), (101, 0.6, False), (102, 0.8, True),
                                               (102, 0.7, True), (103, 0.55, False), (103, 0.95, True)])]
        return RunResult(list(seeds), 1, [], recs, {})

    def fake_summary(res, cfg):
        lam = cfg.fitted.planner_overrides["utility.lambda_per_m"]
        acc, eff, driven = figures[lam]
        return {"agents": {"voi": {"accuracy": acc, "path_m": 1.0, "path_efficiency": eff,
                                   "path_efficiency_driven": driven, "driven_share": 0.3, "raw_brier": 0.2,
                                   "base_rate_brier": 0.22}}}
    monkeypatch.setattr(run_mod, "run_benchmark", fake_run)
    monkeypatch.setattr(run_mod, "summarize_run", fake_summary)
    out = fit_mod.fit(LaeqaConfig(), [101, 102, 103], 1, 6, None, sorted(figures), None, log=lambda *_: None)
    assert out["planner_overrides"]["utility.lambda_per_m"] == 0.01
    assert out["raw_brier"] is not None and out["base_rate_brier"] == pytest.approx(4 / 6 * 2 / 6, abs=1e-4)
