"""Render backends and their automatic selection.

Order for ``render.backend: auto``: MuJoCo over EGL, then MuJoCo over OSMesa, then the pip-only numpy ray
caster (sim.render.numpy_renderer). MUJOCO_GL must be set before mujoco is first imported, so when it is unset
the choice of GL platform is probed once in a child process (which is cheap and cannot poison this one). The
choice and the reason for any fallback are in ``backend_choice()`` (the node and the benchmark log/print them).
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any, List, Optional

from memory_nodes.common.types import CameraIntrinsics

from ..config import SimConfig
from ..world import World

_PROBE = ("import mujoco, numpy as np\n"
          "ctx = mujoco.GLContext(64, 64); ctx.make_current()\n"
          "m = mujoco.MjModel.from_xml_string('<mujoco><worldbody><geom size=\"1\"/></worldbody></mujoco>')\n"
          "c = mujoco.MjrContext(m, 150); print('ok')\n")


@dataclass
class BackendChoice:
    backend: str            # "mujoco" | "numpy"
    gl: str                 # "egl" | "osmesa" | "" (numpy)
    reason: str             # why this one (fallback reasons listed)


_choice: Optional[BackendChoice] = None


def _probe_gl(gl: str, timeout_s: float = 60.0) -> Optional[str]:
    """None if MuJoCo can make a GL context with MUJOCO_GL=gl in a child process, else the error."""
    env = dict(os.environ)
    env["MUJOCO_GL"] = gl
    env.pop("PYOPENGL_PLATFORM", None)
    try:
        r = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True,
                           timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{type(e).__name__}: {e}"
    if r.returncode == 0 and "ok" in r.stdout:
        return None
    tail = (r.stderr or r.stdout).strip().splitlines()
    return tail[-1] if tail else f"exit code {r.returncode}"


def backend_choice(config: Optional[SimConfig] = None) -> BackendChoice:
    """Pick (once per process) the render backend for ``config.render``."""
    global _choice
    if _choice is not None:
        return _choice
    cfg = (config or SimConfig()).render
    if cfg.backend == "numpy":
        _choice = BackendChoice("numpy", "", "render.backend=numpy")
        return _choice
    failures: List[str] = []
    preset = os.environ.get("MUJOCO_GL", "").strip().lower()
    if "mujoco" in sys.modules or preset:
        # the GL platform is already decided for this process: use it or fall back
        gl = preset or "default"
        try:
            import mujoco
            ctx = mujoco.GLContext(64, 64)
            ctx.make_current()
            ctx.free()
            _choice = BackendChoice("mujoco", gl, f"MUJOCO_GL={gl} (preset)")
            return _choice
        except Exception as e:   # any GL failure means: use the fallback renderer
            failures.append(f"MUJOCO_GL={gl}: {type(e).__name__}: {e}")
    else:
        order = [cfg.mujoco_gl] + [g for g in ("egl", "osmesa") if g != cfg.mujoco_gl]
        for gl in order:
            err = _probe_gl(gl)
            if err is None:
                os.environ["MUJOCO_GL"] = gl
                if gl in ("egl", "osmesa"):
                    os.environ.setdefault("PYOPENGL_PLATFORM", gl)
                why = "MUJOCO_GL=" + gl + (f" (after: {'; '.join(failures)})" if failures else "")
                _choice = BackendChoice("mujoco", gl, why)
                return _choice
            failures.append(f"MUJOCO_GL={gl}: {err}")
    if cfg.backend == "mujoco":
        from memory_nodes.common.errors import ConfigError
        raise ConfigError("render.backend=mujoco but no GL platform works: " + "; ".join(failures))
    _choice = BackendChoice("numpy", "", "fallback to the numpy ray caster: " + "; ".join(failures))
    return _choice


def make_renderer(world: World, intrinsics: CameraIntrinsics, config: SimConfig):
    """A renderer with ``render(map_T_camera, scene_state) -> (rgb, depth_m, instance_ids)``."""
    choice = backend_choice(config)
    r: Any
    if choice.backend == "mujoco":
        from .mujoco_renderer import MujocoRenderer
        r = MujocoRenderer(world, intrinsics, choice.gl)
    else:
        from .numpy_renderer import NumpyRenderer
        r = NumpyRenderer(world, intrinsics)
    r.choice = choice          # which backend and why, for the node's log and sim/status
    return r
