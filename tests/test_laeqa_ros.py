"""LA-EQA through the full ROS 2 stack: a short lockstep patrol, then memory-only benchmark questions
through the planner's Ask service give the same answers as the pure core over the memory node's store."""
from __future__ import annotations

import pytest

pytestmark = [pytest.mark.ros, pytest.mark.slow]

DOMAIN_ID = 88


def test_stack_answers_equal_pure_core(tmp_path):
    from bench.laeqa.ros_check import run
    out = run(seed=101, n_questions=8, keep=tmp_path, domain_id=DOMAIN_ID, timeout_s=240.0)
    assert out["frames_published"] > 20 and out["ingested_through_ns"] > 0
    assert out["questions"] >= 6
    statuses = {r["ros"]["status"] for r in out["rows"]}
    assert "ANSWERED" in statuses and "CANNOT_PARSE" in statuses
    assert out["same_answers"] == out["questions"], [r for r in out["rows"] if r["differs"]]
