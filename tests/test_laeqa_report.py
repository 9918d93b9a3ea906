"""LA-EQA run summary: the JSON contract (agents x metrics, by_category, parse per pool), the table and
the plot."""
from __future__ import annotations

import json

from bench.laeqa.agents import AGENTS
from bench.laeqa.config import LaeqaConfig
from bench.laeqa.questions import Question, Truth
from bench.laeqa.report import goals_check, markdown_table, plot
from bench.laeqa.run import Record, RunResult, summarize_run
from bench.laeqa.score import ANSWERED, NOT_SURE, Reply


def _q(i, cat, pool):
    return Question(f"q{i}", 1, 0, 0, cat, "where_now", "where is the mug?", pool, "", Truth("room", 0, "kitchen"),
                    {"kinds": ["where_now"], "target": "mug", "room": "", "receptacle": ""})


def _result():
    qs = [_q(0, "present", "dev"), _q(1, "present", "test"), _q(2, "past", "test")]
    recs = []
    for a in AGENTS:
        for i, q in enumerate(qs):
            ok = a in ("voi", "oracle") or i == 2
            recs.append(Record(a, q, Reply(ANSWERED if ok or a != "explore_only" else NOT_SURE, probability=0.8,
                                           path_m=4.0 if a in ("voi", "explore_only", "oracle") else 0.0,
                                           wall_s=0.01 * (i + 1)), ok, ok, 1.0))
    return RunResult([1], 2, qs, recs, {"q0": True, "q1": False, "q2": None}, {"agent_voi_s": 1.0}, [])


def test_summary_has_the_contract_keys(tmp_path):
    s = summarize_run(_result(), LaeqaConfig())
    json.dumps(s)
    for a in AGENTS:
        b = s["agents"][a]
        for k in ("accuracy", "path_m", "path_efficiency", "brier", "ece", "not_sure_rate", "selective_accuracy",
                  "memory_reads_mean", "wall_ms_p95"):
            assert k in b
        assert b["by_category"]["present"]["n"] == 2 and "accuracy" in b["by_category"]["present"]
    assert s["parse"]["dev"] == 1.0 and s["parse"]["test"] == 0.0 and s["parse"]["test_n"] == 1
    assert s["memory_only_latency_p95_ms"] > 0
    assert s["agents"]["voi"]["accuracy"] == 1.0 and s["agents"]["memory_only"]["accuracy"] < 0.5
    table = markdown_table(s, 1.0)
    assert "| voi |" in table and "Parse accuracy" in table
    goals = goals_check(s)
    assert any(g.startswith("PASS present") for g in goals)
    assert plot(s, tmp_path / "p.png").stat().st_size > 1000
