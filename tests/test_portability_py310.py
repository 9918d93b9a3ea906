"""Humble runs Python 3.10: a chosen set of pure-core test files runs again under .venv310/bin/python (made
by scripts/setup.sh with the core's dependencies only: no torch, no ROS), so 3.10 compatibility is checked,
not assumed (vermin checks syntax; this runs the code). Skipped, saying why, where .venv310 is absent."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PY310 = REPO / ".venv310" / "bin" / "python"
# pure cores only (no rclpy, no torch: the torch tests skip there, and the no-torch import test runs)
FILES = ["tests/test_perception_lifting.py", "tests/test_foundation_config.py", "tests/test_memory_identity.py",
         "tests/test_perception_onnx_providers.py", "tests/test_edge_lifting_torch.py", "tests/test_memory_store.py",
         "tests/test_perception_sync_tf.py", "tests/test_planner_recall.py", "tests/test_ros_compat.py",
         "tests/test_robot_poses.py", "tests/test_planner_robot.py", "tests/test_robot_route.py"]


@pytest.mark.slow
def test_pure_core_tests_pass_under_python310():
    if not PY310.exists():
        pytest.skip(f"no {PY310} (scripts/setup.sh makes it where python3.10 exists; SETUP_SKIP_PY310=1 skips it)")
    ver = subprocess.run([str(PY310), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                         capture_output=True, text=True, timeout=30).stdout.strip()
    assert ver == "3.10", f"{PY310} is Python {ver}"
    r = subprocess.run([str(PY310), "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *FILES], cwd=REPO,
                       capture_output=True, text=True, timeout=300)
    tail = "\n".join((r.stdout + r.stderr).strip().splitlines()[-25:])
    assert r.returncode == 0, f"under Python 3.10:\n{tail}"
    assert " passed" in tail
