"""Real RGB-D replay: the 7-Scenes "redkitchen" frames through perception + memory on one core.

    python -m bench.realdata [--quick] [--json PATH] [--out DIR] [--data DIR] [--params FILE]
                             [--stride K] [--frames N] [--ros]

Replays ../shared/realdata/7scenes-redkitchen (1000 real Kinect frames of a static kitchen corner; its
README says what is in it and its licence: research only, read from there, never copied into the repo)
through the pure cores, as the nodes would run them:

- perception: ``Perception.process`` under config/perception.yaml with the real detector (``detector.kind``
  onnx and the file's ``onnx`` section, as scripts/setup.sh installs it; an ``oracle`` kind is replaced by
  onnx, since real images carry no instance ids), on the CPU, one intra-op thread;
- memory: one ``MemoryCore`` under config/memory.yaml on a store in a temporary folder (its size is
  reported);
- questions: the planner core (config/planner.yaml, config/planner_calibration.json) with memory only.

Frames and poses: the recording's world frame has no "up"; the map frame is built with z against
gravity-direction.txt and its origin on the floor (the lowest dense height of the depth points of a few
frames), so map_T_camera = map_T_world @ world_T_camera (camera optical frame, as perception expects).
The robot base is the camera's position projected to the floor, heading the camera's horizontal
view direction. Stamps: 30 Hz from an arbitrary start (the files carry none). Colour is not
pixel-aligned with depth (another sensor); detections are box-level, so that is tolerable.

The process pins itself to one CPU (os.sched_setaffinity) and sets every thread pool to 1. Frames/s is
detection + ``Perception.process`` + ``MemoryCore.ingest`` per frame; reading and decoding the files (a
camera driver's job) is timed apart. The scene is static: every change event is a false one.
``--quick`` replays every 2nd frame of all 1000 (the whole path at 15 Hz), under a minute.

``--ros`` replays through the nodes instead (ros.py: the launch file's perception and memory nodes, this
process as the camera driver and tf, lockstep on perception's frame acks), pinned to the same one CPU;
the figures are then read from the memory node's store, so both modes print the same table.

A picture (``realdata_tracks.png`` under --out, default data/realdata/) shows the confirmed objects'
boxes projected into a few frames with their class and id, as a person would check them.
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Dict, List, Optional, Sequence, Tuple  # noqa: E402

import numpy as np  # noqa: E402

from memory_nodes.bags.gravity import (  # noqa: E402
    base_under_camera,
    estimate_floor_z,
    floor_sample_indices,
    map_T_world_from_gravity,
)

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO.parent / "shared" / "realdata" / "7scenes-redkitchen"
FRAME_PERIOD_NS = 33_333_333              # the recording's ~30 Hz
START_NS = 1_700_000_000 * 1_000_000_000  # arbitrary: the files carry no stamps
QUESTIONS = ("where is the table?", "how many chairs are there?", "where is the book?", "where is my mug?",
             "how many tables are there?", "where is the laptop?", "what changed?")


class DataMissing(RuntimeError):
    """The recording (or a file of it) is not where it was looked for."""


# ---------------------------------------------------------------------------------------------- the data
class Recording:
    """One 7-Scenes sequence folder: frame-i.color.jpg / .depth.png (uint16 mm) / .pose.txt
    (world_T_camera, optical frame), camera-intrinsics.txt (3x3 K) and gravity-direction.txt (world)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataMissing(f"no recording at {self.root}")
        for name in ("camera-intrinsics.txt", "gravity-direction.txt"):
            if not (self.root / name).is_file():
                raise DataMissing(f"{self.root / name} is missing")
        self.n_frames = self.count_frames(self.root)
        if self.n_frames == 0:
            raise DataMissing(f"no frame-000000.pose.txt in {self.root}")
        K = np.loadtxt(self.root / "camera-intrinsics.txt").reshape(3, 3)
        from memory_nodes.common.types import CameraIntrinsics
        self.intrinsics = CameraIntrinsics(640, 480, float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2]))
        self.world_T_camera = [np.loadtxt(self.root / f"frame-{i:06d}.pose.txt").reshape(4, 4)
                               for i in range(self.n_frames)]
        g = np.loadtxt(self.root / "gravity-direction.txt").reshape(3)
        self.map_T_world = map_T_world_from_gravity(g)
        self.map_T_world[2, 3] = -self._floor_height()

    @staticmethod
    def count_frames(root: Path) -> int:
        """Consecutive frames from frame-000000 (by their pose files)."""
        if not Path(root).is_dir():
            raise DataMissing(f"no recording at {root} (see ../shared/realdata/README.md)")
        n = 0
        while (Path(root) / f"frame-{n:06d}.pose.txt").is_file():
            n += 1
        return n

    def _floor_height(self) -> float:
        """Map z of the floor before the offset (``estimate_floor_z`` over 40 frames across the path)."""
        K = self.intrinsics
        samples = ((self.depth_m(i), self.map_T_world @ self.world_T_camera[i])
                   for i in floor_sample_indices(self.n_frames))
        return estimate_floor_z(samples, K.fx, K.fy, K.cx, K.cy)

    def depth_mm(self, i: int) -> np.ndarray:
        """(H, W) uint16 millimetres, 0 = no return (as a Kinect / RealSense driver publishes 16UC1)."""
        import cv2
        d = cv2.imread(str(self.root / f"frame-{i:06d}.depth.png"), cv2.IMREAD_UNCHANGED)
        if d is None:
            raise DataMissing(f"cannot read frame-{i:06d}.depth.png")
        return d

    def depth_m(self, i: int) -> np.ndarray:
        return self.depth_mm(i).astype(np.float32) * np.float32(0.001)

    def rgb(self, i: int) -> np.ndarray:
        import cv2
        c = cv2.imread(str(self.root / f"frame-{i:06d}.color.jpg"), cv2.IMREAD_COLOR)
        if c is None:
            raise DataMissing(f"cannot read frame-{i:06d}.color.jpg")
        return np.ascontiguousarray(c[:, :, ::-1])

    def stamp_ns(self, i: int) -> int:
        return START_NS + i * FRAME_PERIOD_NS

    def map_T_camera(self, i: int) -> np.ndarray:
        return self.map_T_world @ self.world_T_camera[i]

    @staticmethod
    def map_T_base(map_T_camera: np.ndarray) -> np.ndarray:
        """The camera's position on the floor, heading its horizontal view direction."""
        return base_under_camera(map_T_camera)

    def frame(self, i: int):
        from memory_nodes.common.types import RGBDFrame
        return RGBDFrame(stamp_ns=self.stamp_ns(i), rgb=self.rgb(i), depth_m=self.depth_m(i),
                         intrinsics=self.intrinsics, frame_id="camera_optical")


# ------------------------------------------------------------------------------------------- the configs
def perception_config(params: Path):
    """config/perception.yaml with the real detector on one CPU thread. Returns (config, note)."""
    from memory_nodes.common.config import load_node_params
    from memory_nodes.perception.config import PerceptionConfig
    cfg = PerceptionConfig.from_params(load_node_params(params, "perception"))
    note = ""
    if cfg.detector.kind == "oracle":
        note = f"{params.name} names the oracle detector; replayed with its onnx section (real images)"
        cfg.detector.kind = "onnx"
    onnx = cfg.onnx
    from memory_nodes.perception.detector_models import resolve_model_path
    path = Path(resolve_model_path(onnx.model_path)) if onnx.model_path else None
    if path is None or not path.is_file():
        raise DataMissing(f"no detector model ({'onnx.model_path is empty' if path is None else path}) in "
                          f"{params}: run scripts/setup.sh (it installs the default model under models/)")
    cfg.onnx = dataclasses.replace(onnx, model_path=str(path), providers=["CPUExecutionProvider"],
                                   intra_op_threads=1)
    cfg.validate()
    return cfg, note


def int8_agreement(frames: Sequence[Any], onnx_cfg, every: int = 10) -> Optional[Dict[str, Any]]:
    """Where the CPU runs the INT8 detector (``onnx.cpu_precision``): its detections against the float
    model's on every ``every``-th of ``frames`` (RGBDFrames, or a callable index -> frame with a count),
    outside the timed replay; None where the float model runs. Keys as scripts/quantize_detector.py's
    check (recall of the float detections, recall of those >= threshold + 0.1, precision, mean IoU)."""
    from memory_nodes.perception.onnx_detector import OnnxDetector, choose_cpu_model, detection_agreement
    path, precision, _ = choose_cpu_model(onnx_cfg)
    if precision != "int8":
        return None
    q = OnnxDetector(dataclasses.replace(onnx_cfg, providers=["CPUExecutionProvider"]))
    f = OnnxDetector(dataclasses.replace(onnx_cfg, providers=["CPUExecutionProvider"], cpu_precision="float"))
    total: Dict[str, float] = {"frames": 0}
    for frame in list(frames)[::every]:
        a = detection_agreement(f.detect(frame), q.detect(frame), clear_score=onnx_cfg.score_threshold + 0.1)
        total["frames"] += 1
        for k, v in a.items():
            total[k] = total.get(k, 0) + v
    if not total["frames"]:
        return None
    m = total.get("matched", 0)
    return {**total, "recall": m / total["float"] if total["float"] else 1.0,
            "recall_clear": total["matched_clear"] / total["float_clear"] if total["float_clear"] else 1.0,
            "precision": m / total["int8"] if total["int8"] else 1.0,
            "mean_iou": total["iou_sum"] / m if m else 0.0}


def agreement_text(a: Optional[Dict[str, Any]]) -> str:
    if not a:
        return "float model (no int8 agreement to measure)"
    return (f"int8 vs float on {a['frames']} frames: recall {a['recall']:.3f} ({a['matched']}/{a['float']}; "
            f"{a['recall_clear']:.3f} of those >= threshold + 0.1), precision {a['precision']:.3f}, mean IoU "
            f"{a['mean_iou']:.3f}")


def node_config(cls, filename: str, node: str):
    """A core config from config/<filename> (only the dataclass's own sections)."""
    from memory_nodes.common.config import config_from_dict, load_node_params
    params = load_node_params(REPO / "config" / filename, node)
    known = {f.name for f in dataclasses.fields(cls)}
    return config_from_dict(cls, {k: v for k, v in params.items() if k in known})


def pin_one_core() -> str:
    """Pin this process to one CPU; cv2 to one thread. Returns which CPU."""
    try:
        import cv2
        cv2.setNumThreads(1)
    except ImportError:
        pass
    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[-1]})
        return f"cpu {cpus[-1]}"
    return "not pinned (no sched_setaffinity)"


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


# ----------------------------------------------------------------------------------------------- the run
def replay(rec: Recording, indices: Sequence[int], pcfg, mem, log=None) -> Dict[str, Any]:
    """Every frame through detection, perception and memory; timings and counts."""
    from memory_nodes.common.errors import InputError
    from memory_nodes.perception.pipeline import Perception
    perception = Perception(pcfg)
    detector = perception.detector
    vocab = mem.vocab
    t_io = t_det = t_per = t_mem = 0.0
    rejected: Counter = Counter()
    obs_by_class: Counter = Counter()
    accepted = views = 0
    last_stamp = rec.stamp_ns(indices[0])
    for k, i in enumerate(indices):
        t0 = time.perf_counter()
        frame = rec.frame(i)
        T = rec.map_T_camera(i)
        t1 = time.perf_counter()
        try:
            dets = detector.detect(frame)
            t2 = time.perf_counter()
            out = perception.process(frame, T, rec.map_T_base(T), detections=dets)
            t3 = time.perf_counter()
        except InputError as e:
            rejected[e.cause] += 1
            t_io += t1 - t0
            continue
        mem.ingest(out)
        t4 = time.perf_counter()
        t_io += t1 - t0
        t_det += t2 - t1
        t_per += t3 - t2
        t_mem += t4 - t3
        accepted += 1
        views += out.view is not None
        for o in out.observations:
            obs_by_class[vocab.canonical(o.class_name)] += 1
        last_stamp = frame.stamp_ns
        if log is not None and (k + 1) % 100 == 0:
            log(f"  {k + 1}/{len(indices)} frames, {(t_det + t_per + t_mem) / max(1, accepted) * 1e3:.1f} ms/frame")
    t0 = time.perf_counter()
    mem.ingest(perception.finish(last_stamp))
    mem.commit()
    t_mem += time.perf_counter() - t0
    n = len(indices)
    busy = t_det + t_per + t_mem
    return {"frames": n, "accepted": accepted, "rejected": dict(rejected), "views": views,
            "obs_by_class": dict(obs_by_class), "busy_s": busy, "io_s": t_io,
            "detect_ms": 1e3 * t_det / max(1, accepted), "perception_ms": 1e3 * t_per / max(1, accepted),
            "memory_ms": 1e3 * t_mem / max(1, accepted), "last_stamp_ns": last_stamp,
            "detector_providers": list(getattr(detector, "providers", []))}


def _observations_by_class(mem) -> Dict[str, int]:
    """Stored observations per canonical class (the ROS mode's count: the nodes do not report it)."""
    return dict(Counter(o.class_name for o in mem.observations()))


def memory_figures(mem) -> Dict[str, Any]:
    """Confirmed objects per class (by the vocabulary's most general class: a dining table is a table, as
    "how many tables" counts it; and per canonical class), change events by kind, places, rooms."""
    from memory_nodes.memory.records import CONFIRMED_STATUSES
    tracks = [t for t in mem.state.tracks.values() if t.status in CONFIRMED_STATUSES]
    by_class = Counter(mem.vocab.generalizations(t.class_name)[-1] for t in tracks)
    by_canonical = Counter(t.class_name for t in tracks)
    events = Counter(e.kind for e in mem.state.events)
    rooms = mem.rooms()
    return {"tracks": tracks, "tracks_by_class": dict(sorted(by_class.items())),
            "tracks_by_canonical_class": dict(sorted(by_canonical.items())),
            "events": {k: int(events.get(k, 0)) for k in ("moved", "disappeared", "appeared")},
            "places": len(mem.places()), "rooms": rooms}


def ask(mem, questions: Sequence[str], now_ns: int) -> List[Dict[str, Any]]:
    """The planner core, memory only (no navigator, budget 0)."""
    from memory_nodes.planner.config import PlannerConfig
    from memory_nodes.planner.planner import Planner
    pcfg = node_config(PlannerConfig, "planner.yaml", "planner")
    calibrator = None
    cal = REPO / "config" / "planner_calibration.json"
    if cal.is_file():
        from memory_nodes.planner.calibration import load_calibrator
        calibrator = load_calibrator(str(cal))
    planner = Planner(pcfg, mem, None, mem.vocab, calibrator)
    out = []
    for q in questions:
        a = planner.answer(q, now_ns, budget_m=0.0)
        out.append({"question": q, "status": a.status, "answer": a.answer or a.reason,
                    "probability": round(float(a.probability), 3), "count": int(a.count)})
    return out


# --------------------------------------------------------------------------------------------- the picture
_BOX_EDGES = [(0, 1), (1, 3), (3, 2), (2, 0), (4, 5), (5, 7), (7, 6), (6, 4), (0, 4), (1, 5), (2, 6), (3, 7)]


def _colour(i: int) -> Tuple[int, int, int]:
    rng = np.random.default_rng(i * 7919 + 13)
    c = rng.integers(60, 256, 3)
    return int(c[0]), int(c[1]), int(c[2])


def draw_tracks(rec: Recording, tracks, frame_ids: Sequence[int], path: Path) -> None:
    """The confirmed objects' map-frame boxes (their merged extents) projected into a few frames, with
    class and id (2 x 2 mosaic, BGR PNG)."""
    import cv2
    K = rec.intrinsics
    tiles = []
    for i in frame_ids:
        img = np.ascontiguousarray(rec.rgb(i)[:, :, ::-1])
        cam_T_map = np.linalg.inv(rec.map_T_camera(i))
        for tr in tracks:
            lo = np.asarray(getattr(tr, "ext_min", None) if getattr(tr, "ext_min", None) is not None else tr.bbox_min)
            hi = np.asarray(getattr(tr, "ext_max", None) if getattr(tr, "ext_max", None) is not None else tr.bbox_max)
            corners = np.array([[(lo, hi)[a][0], (lo, hi)[b][1], (lo, hi)[c][2]]
                                for a in (0, 1) for b in (0, 1) for c in (0, 1)])
            pc = corners @ cam_T_map[:3, :3].T + cam_T_map[:3, 3]
            if np.any(pc[:, 2] < 0.1):
                continue
            uv = np.stack([K.fx * pc[:, 0] / pc[:, 2] + K.cx, K.fy * pc[:, 1] / pc[:, 2] + K.cy], axis=1)
            if uv[:, 0].max() < 0 or uv[:, 0].min() > K.width or uv[:, 1].max() < 0 or uv[:, 1].min() > K.height:
                continue
            col = _colour(tr.id)
            pts = np.clip(uv, -4000, 4000).astype(int)
            for a, b in _BOX_EDGES:
                cv2.line(img, tuple(int(v) for v in pts[a]), tuple(int(v) for v in pts[b]), col, 2, cv2.LINE_AA)
            c = tr.pos @ cam_T_map[:3, :3].T + cam_T_map[:3, 3]
            if c[2] > 0.1:
                u, v = int(K.fx * c[0] / c[2] + K.cx), int(K.fy * c[1] / c[2] + K.cy)
                u, v = int(np.clip(u, 0, K.width - 120)), int(np.clip(v, 14, K.height - 4))
                label = f"{tr.class_name} {tr.id}"
                cv2.putText(img, label, (u, v), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
                cv2.putText(img, label, (u, v), cv2.FONT_HERSHEY_SIMPLEX, 0.5, col, 1, cv2.LINE_AA)
        cv2.putText(img, f"frame {i}", (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)
        tiles.append(img)
    while len(tiles) < 4:
        tiles.append(np.zeros_like(tiles[0]))
    mosaic = np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:4])])
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), mosaic)


# ---------------------------------------------------------------------------------------------- main
def run(data: Path, params: Path, indices: Sequence[int], out_dir: Path, log=None, ros: bool = False
        ) -> Dict[str, Any]:
    from memory_nodes.memory import MemoryConfig, MemoryCore
    from memory_nodes.vocab import VocabConfig, Vocabulary
    rec = Recording(data)
    pcfg, note = perception_config(params)
    cpu = pin_one_core()
    mcfg = node_config(MemoryConfig, "memory.yaml", "memory")
    vocab = Vocabulary(VocabConfig(allow_model=False))
    tmp = Path(tempfile.mkdtemp(prefix="bench_realdata_"))
    frames = [i for i in indices if i < rec.n_frames]
    t0 = time.perf_counter()
    try:
        if ros:
            from .ros import replay_ros
            cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
            out_dir.mkdir(parents=True, exist_ok=True)
            r = replay_ros(rec, frames, pcfg, REPO, tmp, cpus[0] if cpus else None, log,
                           stack_log=out_dir / "realdata_ros_stack.log")
            mem = MemoryCore.open(str(r["store"]), mcfg, vocab)
            store_dir = Path(r["data_dir"])
        else:
            mem = MemoryCore.open(str(tmp / "memory.db"), mcfg, vocab)
            r = replay(rec, frames, pcfg, mem, log)
            store_dir = tmp
        m = memory_figures(mem)
        answers = ask(mem, QUESTIONS, r["last_stamp_ns"] + 1_000_000_000)
        stats = mem.stats()
        obs_by_class = r.get("obs_by_class") or _observations_by_class(mem)
        mem.close()
        store_bytes = dir_bytes(store_dir)
        agree = int8_agreement((rec.frame(i) for i in frames), pcfg.onnx) if not ros else None
        pic = out_dir / "realdata_tracks.png"
        n = rec.n_frames
        draw_tracks(rec, m["tracks"], [0, n // 3, (2 * n) // 3, n - 1], pic)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    acc = r["accepted"]
    ev = m["events"]
    fig: Dict[str, Any] = {
        "realdata_frames": r["frames"],
        "realdata_frames_accepted": acc,
        "realdata_frames_accepted_frac": acc / max(1, r["frames"]),
        "realdata_frames_rejected_by_cause": r["rejected"],
        "realdata_fps_one_core": acc / max(1e-9, r["busy_s"]),
        "realdata_detect_ms": r.get("detect_ms"), "realdata_perception_ms": r.get("perception_ms"),
        "realdata_memory_ms": r.get("memory_ms"),
        "realdata_read_decode_ms": 1e3 * r["io_s"] / max(1, r["frames"]) if "io_s" in r else None,
        "realdata_observations": int(sum(obs_by_class.values())),
        "realdata_observations_by_class": dict(sorted(obs_by_class.items())),
        "realdata_tracks": int(sum(m["tracks_by_class"].values())),
        "realdata_tracks_by_class": m["tracks_by_class"],
        "realdata_tracks_by_canonical_class": m["tracks_by_canonical_class"],
        "realdata_change_events": int(sum(ev.values())),
        "realdata_moved_events": ev["moved"], "realdata_disappeared_events": ev["disappeared"],
        "realdata_appeared_events": ev["appeared"],
        "realdata_places": m["places"], "realdata_rooms": len(m["rooms"]),
        "realdata_room_labels": sorted(m["rooms"].values()),
        "realdata_views": r["views"],
        "realdata_store_bytes": store_bytes,
        "realdata_store_mb": store_bytes / 1e6,
        "realdata_memory_stats": {k: int(v) for k, v in stats.items()},
        "realdata_answers": answers,
        "realdata_picture": str(pic),
        "realdata_detector_model": Path(pcfg.onnx.model_path).name,
        "realdata_detector_providers": r.get("detector_providers", ["CPUExecutionProvider"]),
        "realdata_detector_provider": (r.get("detector_providers") or ["CPUExecutionProvider"])[0],
        "realdata_int8_agreement": agree["recall"] if agree else None,
        "realdata_int8_agreement_detail": agree,
        "realdata_mode": "ros" if ros else "core",
        "realdata_config_note": note,
        "realdata_pinned": cpu,
        "realdata_load_avg_1m": os.getloadavg()[0],
        "realdata_wall_s": time.perf_counter() - t0,
    }
    return fig


def print_table(fig: Dict[str, Any], mode: str) -> None:
    w = sys.stdout.write
    goals = {"realdata_frames_accepted_frac": ">= 0.99", "realdata_fps_one_core": ">= 30",
             "realdata_change_events": "0", "realdata_tracks_by_class.table": "1"}

    def ok(key: str) -> str:
        v = fig.get(key) if "." not in key else fig["realdata_tracks_by_class"].get("table", 0)
        good = {"realdata_frames_accepted_frac": lambda x: x >= 0.99, "realdata_fps_one_core": lambda x: x >= 30,
                "realdata_change_events": lambda x: x == 0, "realdata_tracks_by_class.table": lambda x: x == 1}[key](v)
        return f"goal {goals[key]} {'ok' if good else 'MISSED'}"

    w(f"bench.realdata ({mode}, {'ROS 2 nodes' if fig['realdata_mode'] == 'ros' else 'pure cores'}; "
      f"detector {fig['realdata_detector_model']} on {fig['realdata_detector_provider']}, "
      f"{fig['realdata_pinned']}, load average {fig['realdata_load_avg_1m']:.2f})\n")
    if fig["realdata_int8_agreement_detail"]:
        w(f"detector {agreement_text(fig['realdata_int8_agreement_detail'])}\n")
    if fig["realdata_config_note"]:
        w(f"note: {fig['realdata_config_note']}\n")
    rej = ", ".join(f"{k} {v}" for k, v in sorted(fig["realdata_frames_rejected_by_cause"].items())) or "none"
    rows = [
        ("frames", f"{fig['realdata_frames_accepted']}/{fig['realdata_frames']} accepted "
                   f"({fig['realdata_frames_accepted_frac']:.3f}); rejected: {rej}",
         ok("realdata_frames_accepted_frac")),
        ("frames/s, one core", f"{fig['realdata_fps_one_core']:.1f} " + (
            f"(detect {fig['realdata_detect_ms']:.1f} ms + perception {fig['realdata_perception_ms']:.1f} ms + "
            f"memory {fig['realdata_memory_ms']:.1f} ms per frame; file decode "
            f"{fig['realdata_read_decode_ms']:.1f} ms apart)" if fig["realdata_mode"] == "core" else
            "(through the nodes: camera + tf messages in, perception/frame_ack lockstep, decode included)"),
         ok("realdata_fps_one_core")),
        ("observations", f"{fig['realdata_observations']}: " + ", ".join(
            f"{k} {v}" for k, v in fig["realdata_observations_by_class"].items()), ""),
        ("confirmed objects", f"{fig['realdata_tracks']}: " + ", ".join(
            f"{k} {v}" for k, v in fig["realdata_tracks_by_canonical_class"].items()),
         ok("realdata_tracks_by_class.table")),
        ("change events", f"{fig['realdata_change_events']} (moved {fig['realdata_moved_events']}, disappeared "
                          f"{fig['realdata_disappeared_events']}, appeared {fig['realdata_appeared_events']})",
         ok("realdata_change_events")),
        ("places / rooms", f"{fig['realdata_places']} places, {fig['realdata_rooms']} rooms "
                           f"({', '.join(fig['realdata_room_labels']) or '-'})", ""),
        ("store", f"{fig['realdata_store_mb']:.2f} MB ({fig['realdata_views']} views)", ""),
    ]
    for a, b, c in rows:
        w(f"{a:<20}{b}{'   ' + c if c else ''}\n")
    w("questions (planner, memory only):\n")
    for q in fig["realdata_answers"]:
        w(f"  {q['question']:<30} {q['status']:<10} p={q['probability']:.2f}  {q['answer']}\n")
    w(f"picture: {fig['realdata_picture']}\n(took {fig['realdata_wall_s']:.1f} s)\n")


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.realdata", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="every 2nd frame of all 1000 (under a minute)")
    ap.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    ap.add_argument("--out", metavar="DIR", default=str(REPO / "data" / "realdata"), help="where the picture goes")
    ap.add_argument("--data", metavar="DIR", default=str(DEFAULT_DATA), help="the 7-Scenes sequence folder")
    ap.add_argument("--params", metavar="FILE", default=str(REPO / "config" / "perception.yaml"),
                    help="perception parameters (default: the product's config/perception.yaml)")
    ap.add_argument("--stride", type=int, default=None, help="every k-th frame (default 1; 2 with --quick)")
    ap.add_argument("--frames", type=int, default=None, help="only the first N frames")
    ap.add_argument("--ros", action="store_true", help="through the nodes (launch/memory_stack.launch.yaml, "
                    "with_sim:=false detector:=onnx): this process plays the camera driver and tf")
    a = ap.parse_args(argv)
    stride = a.stride or (2 if a.quick else 1)
    n = a.frames if a.frames is not None else 1_000_000
    if stride < 1 or n < 1:
        ap.error("--stride and --frames must be >= 1")
    try:
        n_avail = Recording.count_frames(Path(a.data))
        fig = run(Path(a.data), Path(a.params), range(0, min(n, n_avail), stride), Path(a.out),
                  log=lambda s: sys.stderr.write(s + "\n"), ros=a.ros)
    except DataMissing as e:
        sys.stderr.write(f"bench.realdata: {e}\n")
        return 2
    mode = f"every {stride} frame(s)" if stride > 1 else "every frame"
    print_table(fig, mode)
    if a.json:
        p = Path(a.json)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(fig, indent=2, sort_keys=True, default=float))
    return 0
