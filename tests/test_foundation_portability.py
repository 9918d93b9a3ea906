"""The core stays ROS-free, and every module runs on Python 3.10 (Jetson / ROS 2 Humble)."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

CORE_MODULES = ["memory_nodes.common.types", "memory_nodes.common.protocols", "memory_nodes.common.config",
                "memory_nodes.common.geometry"]
OPTIONAL_CORE = ["memory_nodes.vocab", "memory_nodes.perception", "memory_nodes.memory", "memory_nodes.planner",
                 "sim"]


def _core_modules():
    mods = list(CORE_MODULES)
    for pkg in OPTIONAL_CORE:
        base = REPO_ROOT / pkg.replace(".", "/")
        for f in sorted(base.rglob("*.py")):
            rel = f.relative_to(REPO_ROOT).with_suffix("")
            parts = rel.parts
            if "ros" in parts or f.name == "__main__.py" or f.name.startswith("test"):
                continue
            mods.append(".".join(p for p in parts if p != "__init__"))
    return sorted(set(mods))


def test_importing_the_core_never_loads_rclpy():
    mods = _core_modules()
    code = ("import importlib, sys\n"
            f"for m in {mods!r}:\n"
            "    importlib.import_module(m)\n"
            "bad = sorted(k for k in sys.modules if k.split('.')[0] in "
            "('rclpy', 'memory_interfaces', 'nav2_msgs', 'tf2_msgs', 'sensor_msgs', 'geometry_msgs'))\n"
            "print('LOADED', bad)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "LOADED []" in out.stdout, out.stdout


def test_source_needs_no_python_newer_than_3_10():
    vermin = shutil.which("vermin") or str(REPO_ROOT / ".venv" / "bin" / "vermin")
    out = subprocess.run([vermin, "--no-tips", "--violations", "-t=3.10-", "--eval-annotations",
                          "--backport", "dataclasses", "--backport", "typing",
                          "memory_nodes", "sim", "bench", "tests"],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]


def _python310():
    import glob
    for cand in [shutil.which("python3.10"), *sorted(glob.glob("/root/.pyenv/versions/3.10*/bin/python3.10")),
                 "/usr/bin/python3.10"]:
        if cand and subprocess.run([cand, "-c", "import sys; assert sys.version_info[:2] == (3, 10)"],
                                   capture_output=True).returncode == 0:
            return cand
    return None


PY310 = _python310()


@pytest.mark.skipif(PY310 is None, reason="no python3.10 interpreter on this machine (vermin still checks)")
def test_every_module_compiles_under_python_3_10(tmp_path):
    files = [str(p) for d in ("memory_nodes", "sim", "bench", "tests") for p in (REPO_ROOT / d).rglob("*.py")]
    code = ("import sys, py_compile\n"
            "bad = []\n"
            "for f in sys.argv[1:]:\n"
            "    try:\n"
            f"        py_compile.compile(f, cfile={str(tmp_path)!r} + '/x.pyc', doraise=True)\n"
            "    except py_compile.PyCompileError as e:\n"
            "        bad.append(str(e))\n"
            "print('\\n'.join(bad)); sys.exit(1 if bad else 0)\n")
    out = subprocess.run([PY310, "-c", code, *files], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-1000:]
