"""The edge budget: the whole perception + memory core on one CPU core under a memory cap.

    python -m bench.edge [--quick] [--json PATH] [--data DIR] [--params FILE] [--frames N] [--stride K]
                         [--mem-cap-mb MB] [--backend numpy|torch] [--device auto|cpu|cuda]

What a small robot computer (a Jetson's CPU cluster, one core of it spare) must sustain: 640x480 RGB-D
frames through the real detector (config/perception.yaml's ``onnx`` section, NanoDet-g from
models/nanodet-coco.onnx), ``Perception.process`` (lifting, views, places and rooms) and
``MemoryCore.ingest`` (config/memory.yaml, a store in a temporary folder), with

- the process pinned to ONE core (``bench.realdata.pin_one_core``) and every thread pool at 1;
- its address space capped (``resource.setrlimit(RLIMIT_AS)``, ``--mem-cap-mb``, default 2048) before
  onnxruntime (and torch, with ``--backend torch``) are imported, so a run that needs more fails instead
  of passing on a big machine. RLIMIT_AS caps *virtual* memory, which onnxruntime's arenas and torch's
  allocator reserve well beyond what they touch: the cap that works is reported with the figures; the
  resident peak (``ru_maxrss``) is what the goal bounds.

Frames: the real 7-Scenes kitchen (../shared/realdata/7scenes-redkitchen, ``bench.realdata.Recording``,
read from there, never copied) where present, else frames rendered by the simulator along its patrol
(rendered beforehand, rendering excluded). File decoding is a camera driver's job and is timed apart.

Figures: frames/s (accepted frames / busy time), per-frame latency p50/p95 of each stage (``detect``,
``lift``, ``views``, ``places`` from ``Perception.process``'s ``on_stage`` hook; ``memory`` = ingest) and of
the total, the first frame apart (model warm-up; a TensorRT engine build lands there), peak RSS, and what
ran: the detector's execution provider (``OnnxDetector.provider``; "CPUExecutionProvider(int8)" when the CPU
runs the INT8 twin, ``onnx.cpu_precision``), the lifting backend and its device. With the INT8 model, its
agreement with the float one (``edge_int8_agreement``: the recall of the float model's detections, IoU >= 0.5
and the same class) is measured on every 10th frame after the timed run, and the RSS taken before that. On a
machine with a GPU the same command runs the configured provider order (TensorRT -> CUDA -> CPU) and
``lifting.device: auto`` puts the torch backend on CUDA. Goals (../shared/goals/17-edge): >= 30 frames/s,
p95 <= 50 ms, RSS <= 1.5 GB. ``--quick``: every 2nd of the first 600 frames, under a minute.
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Dict, List, Optional, Sequence  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
STAGES = ("detect", "lift", "views", "places", "memory")
GOALS = {"edge_fps_one_core": (">=", 30.0), "edge_latency_p95_ms": ("<=", 50.0), "edge_rss_mb": ("<=", 1536.0)}
DEFAULT_CAP_MB = 2048


def cap_address_space(mb: int) -> str:
    """RLIMIT_AS to ``mb`` MiB (0: none). Returns what was set."""
    if mb <= 0:
        return "none"
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    want = mb * 1024 * 1024
    if hard != resource.RLIM_INFINITY and want > hard:
        want = hard
    resource.setrlimit(resource.RLIMIT_AS, (want, hard))
    return f"{want // (1024 * 1024)} MiB address space (RLIMIT_AS)"


def peak_rss_mb() -> float:
    """This process's resident peak (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class SimFrames:
    """Frames rendered by the simulator along its patrol, the Recording's interface (rendered beforehand)."""

    def __init__(self, n: int, seed: int = 0):
        from sim.simulator import Simulator
        sim = Simulator(seed=seed)
        sim.config.patrol.coverage_fraction = 1.0
        plan = sim.patrol_plan(0)
        stamps = plan.trajectory.stamps_ns(sim.config.camera.rate_hz)
        pick = stamps[:: max(1, len(stamps) // n)][:n]
        self._frames = []
        for t in pick:
            map_T_base = sim.base_pose_T(plan.trajectory.pose_at(t))
            map_T_camera = map_T_base @ sim.base_T_camera
            self._frames.append((sim.render(map_T_camera, t, 640, 480), map_T_camera, map_T_base))
        self.n_frames = len(self._frames)

    def frame(self, i: int):
        return self._frames[i][0]

    def map_T_camera(self, i: int) -> np.ndarray:
        return self._frames[i][1]

    def map_T_base_at(self, i: int) -> np.ndarray:
        return self._frames[i][2]


def perception_config(params: Path, backend: Optional[str], device: Optional[str]):
    """bench.realdata's config (the real detector, one intra-op thread) with the file's provider order kept
    (a GPU machine runs TensorRT/CUDA) and the lifting backend/device overridden where asked."""
    from bench.realdata import perception_config as realdata_config
    from memory_nodes.common.config import load_node_params
    from memory_nodes.perception.config import PerceptionConfig
    cfg, note = realdata_config(params)
    wanted = PerceptionConfig.from_params(load_node_params(params, "perception")).onnx.providers
    cfg.onnx = dataclasses.replace(cfg.onnx, providers=list(wanted))
    lift = cfg.lifting
    cfg.lifting = dataclasses.replace(lift, backend=backend or lift.backend, device=device or lift.device)
    cfg.validate()
    return cfg, note


def percentiles(ms: Sequence[float]) -> Dict[str, float]:
    a = np.asarray(ms, float)
    if a.size == 0:
        return {"p50": 0.0, "p95": 0.0, "max": 0.0, "mean": 0.0}
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)), "max": float(a.max()),
            "mean": float(a.mean())}


class StageClock:
    """``Perception.process``'s ``on_stage`` callback: ms of each stage since the previous mark."""

    def __init__(self, start_s: float):
        self.ms = dict.fromkeys(STAGES, 0.0)
        self._last = start_s

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.ms[name] += 1e3 * (now - self._last)
        self._last = now


def run_frames(source, indices: Sequence[int], pcfg, mem, map_T_base) -> Dict[str, Any]:
    """Each frame through the detector, Perception.process and MemoryCore.ingest; per-stage ms per frame."""
    from memory_nodes.common.errors import InputError
    from memory_nodes.perception.pipeline import Perception
    perception = Perception(pcfg)
    detector = perception.detector
    clock = time.perf_counter
    per_stage: Dict[str, List[float]] = {s: [] for s in STAGES}
    totals: List[float] = []
    rejected: Counter = Counter()
    io_s = 0.0
    observations = views = 0
    last_stamp = None
    for i in indices:
        t_io = clock()
        frame = source.frame(i)
        T = source.map_T_camera(i)
        B = map_T_base(i, T)
        t0 = clock()
        io_s += t0 - t_io
        stages = StageClock(t0)
        try:
            out = perception.process(frame, T, B, on_stage=stages)
        except InputError as e:
            rejected[e.cause] += 1
            continue
        t_mem = clock()
        mem.ingest(out)
        t_end = clock()
        stages.ms["memory"] = 1e3 * (t_end - t_mem)
        for s in STAGES:
            per_stage[s].append(stages.ms[s])
        totals.append(1e3 * (t_end - t0))
        observations += len(out.observations)
        views += out.view is not None
        last_stamp = frame.stamp_ns
    if last_stamp is not None:
        mem.ingest(perception.finish(last_stamp))
    mem.commit()
    lifter = perception.lifter
    return {"per_stage_ms": per_stage, "total_ms": totals, "rejected": dict(rejected), "io_s": io_s,
            "observations": observations, "views": views, "frames": len(indices),
            "provider": str(getattr(detector, "provider", "?")),
            "providers": list(getattr(detector, "providers", [])),
            "provider_warning": str(getattr(detector, "provider_warning", "") or ""),
            "lifting_backend": lifter.backend_name, "lifting_device": lifter.device_name}


def run(data: Path, params: Path, frames: Optional[int], stride: int, cap_mb: int, backend: Optional[str],
        device: Optional[str]) -> Dict[str, Any]:
    from bench.realdata import DataMissing, Recording, int8_agreement, node_config, pin_one_core
    cpu = pin_one_core()
    t_wall = time.perf_counter()
    # the input first, outside the cap: a recording's files, or (without one) frames the simulator renders
    # beforehand, as a recording would hold them (its GL context is no part of the robot's pipeline, and
    # EGL cannot start under a small address-space cap)
    try:
        source: Any = Recording(data)
        source_name = f"7-Scenes {data.name} (real Kinect frames, 640x480)"

        def map_T_base(_i: int, T: np.ndarray) -> np.ndarray:
            return Recording.map_T_base(T)
        n_avail = source.n_frames
    except DataMissing as e:
        n_sim = min(frames or 300, 300)
        source = SimFrames(n_sim)
        source_name = f"simulator patrol, 640x480, rendered before the cap ({e})"

        def map_T_base(i: int, _T: np.ndarray) -> np.ndarray:
            return source.map_T_base_at(i)
        n_avail = source.n_frames
    cap = cap_address_space(cap_mb)
    pcfg, note = perception_config(params, backend, device)
    if pcfg.lifting.backend == "torch":
        import torch  # under the cap, as the node would load it; one thread like every other pool
        torch.set_num_threads(1)
    indices = list(range(0, min(frames or n_avail, n_avail), stride))
    from memory_nodes.memory import MemoryConfig, MemoryCore
    from memory_nodes.vocab import VocabConfig, Vocabulary
    mcfg = node_config(MemoryConfig, "memory.yaml", "memory")
    tmp = Path(tempfile.mkdtemp(prefix="bench_edge_"))
    try:
        mem = MemoryCore.open(str(tmp / "memory.db"), mcfg, Vocabulary(VocabConfig(allow_model=False)))
        r = run_frames(source, indices, pcfg, mem, map_T_base)
        rss = peak_rss_mb()             # before the agreement check below loads two more sessions
        tracks = len(mem.state.tracks)
        mem.close()
        agree = int8_agreement((source.frame(i) for i in indices), pcfg.onnx)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    totals = r["total_ms"]
    steady = totals[1:] if len(totals) > 1 else totals      # the first frame warms the model up
    stage_stats = {s: percentiles(v[1:] if len(v) > 1 else v) for s, v in r["per_stage_ms"].items()}
    total = percentiles(steady)
    accepted = len(totals)
    fig: Dict[str, Any] = {
        "edge_frames": r["frames"], "edge_frames_accepted": accepted, "edge_frames_rejected_by_cause": r["rejected"],
        "edge_fps_one_core": len(steady) / max(1e-9, sum(steady) / 1e3),
        "edge_fps_one_core_incl_first": accepted / max(1e-9, sum(totals) / 1e3),
        "edge_first_frame_ms": totals[0] if totals else 0.0,
        "edge_latency_p50_ms": total["p50"], "edge_latency_p95_ms": total["p95"],
        "edge_latency_max_ms": total["max"],
        "edge_stage_ms": stage_stats,
        "edge_read_decode_ms": 1e3 * r["io_s"] / max(1, r["frames"]),
        "edge_rss_mb": rss,
        "edge_mem_cap": cap, "edge_mem_cap_mb": cap_mb,
        "edge_detector_model": Path(pcfg.onnx.model_path).name,
        "edge_detector_provider": r["provider"], "edge_detector_providers": r["providers"],
        "edge_detector_providers_wanted": list(pcfg.onnx.providers),
        "edge_detector_provider_warning": r["provider_warning"],
        "edge_int8_agreement": agree["recall"] if agree else None,
        "edge_int8_agreement_detail": agree,
        "edge_lifting_backend": r["lifting_backend"], "edge_lifting_device": r["lifting_device"],
        "edge_observations": r["observations"], "edge_views": r["views"], "edge_tracks": tracks,
        "edge_source": source_name, "edge_config_note": note, "edge_pinned": cpu,
        "edge_load_avg_1m": os.getloadavg()[0], "edge_wall_s": time.perf_counter() - t_wall,
    }
    return fig


def _verdict(key: str, value: float) -> str:
    op, bar = GOALS[key]
    ok = value >= bar if op == ">=" else value <= bar
    return f"goal {op} {bar:g} {'ok' if ok else 'MISSED'}"


def print_table(fig: Dict[str, Any]) -> None:
    w = sys.stdout.write
    w(f"bench.edge: {fig['edge_source']}; {fig['edge_pinned']}, cap {fig['edge_mem_cap']}, "
      f"load average {fig['edge_load_avg_1m']:.2f}\n")
    w(f"detector {fig['edge_detector_model']} on {fig['edge_detector_provider']} "
      f"(asked {', '.join(fig['edge_detector_providers_wanted'])}); lifting {fig['edge_lifting_backend']} "
      f"on {fig['edge_lifting_device']}\n")
    if fig["edge_int8_agreement_detail"]:
        from bench.realdata import agreement_text
        w(f"detector {agreement_text(fig['edge_int8_agreement_detail'])} (every 10th frame, untimed)\n")
    if fig["edge_detector_provider_warning"]:
        w(f"WARNING: {fig['edge_detector_provider_warning']}\n")
    if fig["edge_config_note"]:
        w(f"note: {fig['edge_config_note']}\n")
    rej = ", ".join(f"{k} {v}" for k, v in sorted(fig["edge_frames_rejected_by_cause"].items())) or "none"
    w(f"frames: {fig['edge_frames_accepted']}/{fig['edge_frames']} processed (rejected: {rej}); "
      f"{fig['edge_observations']} observations, {fig['edge_views']} views, {fig['edge_tracks']} tracks\n")
    w(f"{'stage (ms/frame)':<18}{'p50':>8}{'p95':>8}{'max':>8}{'mean':>8}\n")
    for s in STAGES:
        st = fig["edge_stage_ms"][s]
        w(f"{s:<18}{st['p50']:>8.1f}{st['p95']:>8.1f}{st['max']:>8.1f}{st['mean']:>8.1f}\n")
    w(f"{'total':<18}{fig['edge_latency_p50_ms']:>8.1f}{fig['edge_latency_p95_ms']:>8.1f}"
      f"{fig['edge_latency_max_ms']:>8.1f}   {_verdict('edge_latency_p95_ms', fig['edge_latency_p95_ms'])} (p95)\n")
    w(f"first frame {fig['edge_first_frame_ms']:.0f} ms (warm-up, left out of the figures); file decode "
      f"{fig['edge_read_decode_ms']:.1f} ms/frame apart\n")
    fps = fig["edge_fps_one_core"]
    w(f"frames/s, one core  {fps:.1f}   {_verdict('edge_fps_one_core', fps)}\n")
    w(f"peak RSS            {fig['edge_rss_mb']:.0f} MB   {_verdict('edge_rss_mb', fig['edge_rss_mb'])}\n")
    w(f"(took {fig['edge_wall_s']:.1f} s)\n")


def main(argv: Optional[Sequence[str]] = None) -> int:
    from bench.realdata import DEFAULT_DATA
    ap = argparse.ArgumentParser(prog="python -m bench.edge", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="every 2nd of the first 600 frames (under a minute)")
    ap.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    ap.add_argument("--data", metavar="DIR", default=str(DEFAULT_DATA), help="the 7-Scenes sequence folder")
    ap.add_argument("--params", metavar="FILE", default=str(REPO / "config" / "perception.yaml"))
    ap.add_argument("--frames", type=int, default=None, help="only the first N frames")
    ap.add_argument("--stride", type=int, default=None, help="every k-th frame (default 1; 2 with --quick)")
    ap.add_argument("--mem-cap-mb", type=int, default=DEFAULT_CAP_MB,
                    help=f"RLIMIT_AS in MiB (default {DEFAULT_CAP_MB}; 0 = no cap)")
    ap.add_argument("--backend", choices=("numpy", "torch"), default=None, help="lifting.backend (default: file)")
    ap.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None, help="lifting.device (default: file)")
    a = ap.parse_args(argv)
    stride = a.stride or (2 if a.quick else 1)
    frames = a.frames if a.frames is not None else (600 if a.quick else None)
    if stride < 1 or (frames is not None and frames < 1):
        ap.error("--stride and --frames must be >= 1")
    from bench.realdata import DataMissing
    try:
        fig = run(Path(a.data), Path(a.params), frames, stride, a.mem_cap_mb, a.backend, a.device)
    except DataMissing as e:
        sys.stderr.write(f"bench.edge: {e}\n")
        return 2
    except Exception as e:   # under the cap, onnxruntime / torch / a loader fail with their own types
        text = f"{type(e).__name__}: {e}"
        if not isinstance(e, MemoryError) and not any(w in text for w in ("alloc", "Cannot allocate", "map segment")):
            raise
        sys.stderr.write(f"bench.edge: out of memory under the cap ({a.mem_cap_mb} MiB RLIMIT_AS; "
                         f"--mem-cap-mb raises it): {text.splitlines()[0][:300]}\n")
        return 3
    print_table(fig)
    if a.json:
        p = Path(a.json)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(fig, indent=2, sort_keys=True, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
