"""Memory benchmark: ingest throughput, recall latency over 7 / 30 / 365 simulated days, disk and RAM per
day, identity switches per day against ground truth.

    python -m bench.memory            # full run (several minutes on 2 shared cores)
    python -m bench.memory --quick    # under a minute
    python -m bench.memory --json out/memory.json

Sources of observations (observations never carry identities; ground truth is for scoring only):
- identity: the simulator's household (sim.world + sim.household routines, its ground-truth log) watched
  by a noisy detector model (misses, look-alike confusions from sim.catalog.SIMILAR_CLASSES, centroid and
  colour noise, false positives), the robot sweeping its camera at every room; walls occlude.
  Falls back to memory's own synthetic household if the simulator cannot be imported.
- throughput, latency, disk: the synthetic household (memory_nodes.memory.synthetic), long histories
  synthesized fast (a sparse patrol per day); stores are real SQLite stores in a temporary folder.
Targets (issue 6): recall_p95_ms_365d <= 50, ingest_fps >= 30, id_switches_per_day <= 2.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from typing import Dict, List, Optional, Tuple

import numpy as np

from bench.scale import generated_ahead
from memory_nodes.memory import MemoryConfig, MemoryCore, StoreConfig
from memory_nodes.memory.config import NS_PER_DAY, NS_PER_S
from memory_nodes.memory.synthetic import (
    GTObject,
    SynthConfig,
    SyntheticHousehold,
    run_days,
    score_changes,
    score_identity,
)
from memory_nodes.vocab import VocabConfig, Vocabulary

# ------------------------------------------------------------------------------ the simulator's household


class SimHousehold(SyntheticHousehold):
    """The simulator's world and ground-truth routines, observed by the synthetic camera + noisy detector."""

    def __init__(self, seed: int, days: int, cfg: Optional[SynthConfig] = None):
        from sim.catalog import SIMILAR_CLASSES
        from sim.config import HouseholdConfig, WorldConfig
        from sim.household import simulate
        from sim.world import generate_world
        self.cfg = cfg or SynthConfig(seed=seed, camera_pitch_down_rad=0.35, stops_per_room=2)
        c = self.cfg
        self.rng = np.random.default_rng(seed + 1000)
        w, h = c.depth_size
        from memory_nodes.common.types import CameraIntrinsics
        fx = (w / 2.0) / math.tan(math.radians(c.hfov_deg) / 2.0)
        self.intr = CameraIntrinsics(w, h, fx, fx, (w - 1) / 2.0, (h - 1) / 2.0)
        self.world = generate_world(WorldConfig(seed=seed))
        self.log = simulate(self.world, HouseholdConfig(), days)
        self.labels = [r.room_type.replace("_", " ") for r in self.world.rooms]
        self.room_rects = [(r.min_xy_m[0], r.min_xy_m[1], r.max_xy_m[0], r.max_xy_m[1]) for r in self.world.rooms]
        self.objects: Dict[int, GTObject] = {}
        self._gt_of: Dict[str, int] = {}
        self.tops = []
        self.changes = []
        self._next_id = 1
        for f in self.world.furniture:
            i = self._add(f.class_name.replace("_", " "),
                          np.array([f.center_xy_m[0], f.center_xy_m[1], f.height_m / 2]),
                          float(min(max(f.width_m, f.depth_m), 1.2)), furniture=True)
            self.objects[i].color = np.array(f.rgb, float)
        for o in self.world.objects:
            i = self._add(o.class_name.replace("_", " "), np.zeros(3), float(max(o.size_m)))
            self.objects[i].color = np.array(o.rgb, float)
            self.objects[i].present = False
            self._gt_of[o.object_id] = i
        pairs = {}
        for a, b in SIMILAR_CLASSES:
            pairs[a.replace("_", " ")] = b.replace("_", " ")
            pairs[b.replace("_", " ")] = a.replace("_", " ")
        self._confusable = pairs
        self.t_origin_ns = int(self.log.header["start_ns"])
        self._rays_c = self._make_rays()
        self.day_index = -1

    def _stops(self):
        out = []
        for r in self.world.rooms:
            (x0, y0), (x1, y1) = r.min_xy_m, r.max_xy_m
            n = 2 if r.area_m2 > 14.0 else 1
            for k in range(n):
                f = (k + 1) / (n + 1)
                if (x1 - x0) >= (y1 - y0):
                    out.append((r.room_id, (x0 + f * (x1 - x0), (y0 + y1) / 2)))
                else:
                    out.append((r.room_id, ((x0 + x1) / 2, y0 + f * (y1 - y0))))
        return out

    def rooms(self, stamp_ns: int):
        from memory_nodes.common.types import Room, RoomSegmentation
        res = 0.1
        xs = [r[2] for r in self.room_rects]
        ys = [r[3] for r in self.room_rects]
        cols, rows = int(math.ceil(max(xs) / res)) + 1, int(math.ceil(max(ys) / res)) + 1
        grid = np.full((rows, cols), -1, np.int16)
        for r in self.world.rooms:
            (x0, y0), (x1, y1) = r.min_xy_m, r.max_xy_m
            grid[int(y0 / res):int(y1 / res), int(x0 / res):int(x1 / res)] = r.room_id
        rooms = [Room(r.room_id, r.room_type.replace("_", " "), 0.9, np.array([*r.center_xy_m, 0.0]), r.area_m2)
                 for r in self.world.rooms]
        return RoomSegmentation(stamp_ns, rooms, grid, res, (0.0, 0.0))

    def apply_day_changes(self, day: int) -> None:
        t = self.t_origin_ns + day * NS_PER_DAY + int(self.cfg.patrol_start_s * NS_PER_S)
        for oid, st in self.log.object_states(t).items():
            o = self.objects[self._gt_of[oid]]
            new = np.array(st.position_m, float)
            if o.present and not st.present:
                self.changes.append(_change("disappeared", o.gt_id, day, o.pos.copy(), None))
            elif st.present and not o.present and day > 0:
                self.changes.append(_change("appeared", o.gt_id, day, None, new.copy()))
            elif st.present and o.present and np.linalg.norm(new - o.pos) > 0.3:
                self.changes.append(_change("moved", o.gt_id, day, o.pos.copy(), new.copy()))
            o.present = bool(st.present)
            if st.present:
                o.pos = new

    def _frame(self, stamp, place, room, x, y, yaw, k, day):
        from memory_nodes.memory import synthetic
        saved = synthetic.CONFUSABLE
        synthetic.CONFUSABLE = self._confusable
        try:
            return super()._frame(stamp, place, room, x, y, yaw, k, day)
        finally:
            synthetic.CONFUSABLE = saved


def _change(kind, gt, day, a, b):
    from memory_nodes.memory.synthetic import ChangeTruth
    return ChangeTruth(kind, gt, day, a, b)


def make_identity_source(seed: int, days: int):
    try:
        return SimHousehold(seed, days), "simulator ground truth"
    except ImportError as e:      # the simulator is optional for this benchmark
        sys.stderr.write(f"[bench.memory] simulator unavailable ({e}); using the synthetic household\n")
        return SyntheticHousehold(SynthConfig(seed=seed)), "synthetic household"


# ------------------------------------------------------------------------------------------ helpers


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError):
        return float("nan")


def _pct(xs: List[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q)) if xs else float("nan")


def _dir_mb(path: str) -> float:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total / 1e6


def _store_config(path: str, durable: bool) -> StoreConfig:
    """A built-for-measuring store commits in batches of 60 frames (12 s of input at 5 Hz), the durable
    one as the node does (config/memory.yaml: 15 frames or 3 s of input, whichever first)."""
    if durable:
        return StoreConfig(path=path, synchronous="FULL", fsync_keyframes=True, commit_every_frames=15,
                           commit_every_s=3.0)
    return StoreConfig(path=path, synchronous="NORMAL", fsync_keyframes=False, commit_every_frames=60,
                       commit_every_s=12.0)


def _build_store(path: str, days: int, cfg: SynthConfig, vocab: Vocabulary, durable: bool) -> Tuple[MemoryCore, float]:
    sc = _store_config(path, durable)
    mem = MemoryCore.open(path, MemoryConfig(store=sc), vocab=vocab)
    world = SyntheticHousehold(cfg)
    t = time.perf_counter()
    run_days(mem, world, days)
    return mem, time.perf_counter() - t


# ------------------------------------------------------------------------------------------ sections


def bench_identity(seeds: List[int], days: int, vocab: Vocabulary) -> Dict[str, float]:
    sw = look = det = missed = false = gt = 0
    found = true = reported = fm = 0
    source = ""
    for seed in seeds:
        world, source = make_identity_source(seed, days)
        mem = MemoryCore.in_memory(vocab=vocab)
        asg: List = []
        run_days(mem, world, days, assignments=asg)
        s = score_identity(mem, asg, world)
        c = score_changes(mem, world, asg)
        sw += s.id_switches
        look += s.lookalike_switches
        det += s.detections
        missed += s.missed_objects
        false += s.false_objects
        gt += s.gt_objects
        found += c.found_moves
        true += c.true_moves
        reported += c.reported_moves
        fm += c.false_moves
    n_days = days * len(seeds)
    # Objects of one class and one colour (the simulator's four white mugs, two white plates ...) cannot
    # be told apart by any observation; swaps among them are reported apart and not counted as errors.
    return {"id_switches_per_day": (sw - look) / n_days, "id_switches_per_day_raw": sw / n_days,
            "lookalike_switches_per_day": look / n_days, "identity_days": n_days, "identity_detections": det,
            "missed_objects_frac": missed / max(1, gt), "false_objects_per_day": false / n_days,
            "moved_events_recall": found / max(1, true), "moved_events_precision": 1.0 - fm / max(1, reported),
            "identity_source": source}


def bench_identity_laeqa(seed: int, days: int, vocab: Vocabulary) -> Dict[str, float]:
    """Identity over the LA-EQA benchmark's perception emulator (bench.laeqa: the simulator's patrols at
    the camera rate, visibility with furniture occlusion, the noisy oracle's miss / confusion rates,
    perception's own place and room code), scored with its per-observation ground truth."""
    try:
        from bench.laeqa.config import ObservationConfig
        from bench.laeqa.home import perceive_home, simulate_home
        from sim.config import SimConfig
    except ImportError as e:
        sys.stderr.write(f"[bench.memory] LA-EQA perception emulator unavailable ({e})\n")
        return {}
    sim = simulate_home(seed, days, SimConfig())
    run = perceive_home(sim, days, ObservationConfig())
    mem = MemoryCore.in_memory(vocab=vocab)
    gt_ids: Dict[str, int] = {}
    asg: List = []
    min_score = mem.config.association.min_score
    for out, truth in zip(run.outputs, run.detection_truth):
        mem.ingest(out)
        valid = [i for i, o in enumerate(out.observations)
                 if o.score >= min_score and np.all(np.isfinite(np.asarray(o.centroid_m, float)))]
        for (_, tid), i in zip(mem.last_assignment, valid):
            e = truth[i] if i < len(truth) else ""
            asg.append((out.stamp_ns, gt_ids.setdefault(e, len(gt_ids)) if e else -1, tid))

    class _World:                      # what score_identity needs to tell look-alikes apart
        objects: Dict[int, GTObject] = {}
    specs = {o.object_id: (o.class_name, o.rgb) for o in sim.world.objects}
    specs.update({f.furniture_id: (f.class_name, f.rgb) for f in sim.world.furniture})
    for e, g in gt_ids.items():
        if e in specs:
            cls, rgb = specs[e]
            _World.objects[g] = GTObject(g, cls.replace("_", " "), np.zeros(3), np.array(rgb, float), 0.1)
    s = score_identity(mem, asg, _World())
    return {"id_switches_per_day_laeqa": (s.id_switches - s.lookalike_switches) / days,
            "id_switches_per_day_laeqa_raw": s.id_switches / days,
            "false_objects_per_day_laeqa": s.false_objects / days, "laeqa_days": days}


def bench_ingest(tmp: str, vocab: Vocabulary, days: int) -> Dict[str, float]:
    """Durable ingest (synchronous=FULL, fsync'd keyframes) of a cluttered household: ~30 objects per room,
    every 2nd frame a View with a 160x120 depth image and a 20 kB keyframe."""
    cfg = SynthConfig(seed=11, n_rooms=4, objects_per_room=30, jpeg_bytes=20_000, view_every=2,
                      depth_size=(160, 120))
    world = SyntheticHousehold(cfg)
    frames = [f.out for d in range(days) for f in world.day(d)]
    path = os.path.join(tmp, "ingest.db")
    mem = MemoryCore.open(path, MemoryConfig(store=StoreConfig(path=path)), vocab=vocab)
    n_obs = sum(len(f.observations) for f in frames)
    t = time.perf_counter()
    for f in frames:
        mem.ingest(f)
    mem.commit()
    dt = time.perf_counter() - t
    mem.close()
    return {"ingest_fps": len(frames) / dt, "ingest_obs_per_s": n_obs / dt,
            "ingest_obs_per_frame": n_obs / max(1, len(frames)), "ingest_frames": len(frames)}


def _query_mix(mem: MemoryCore, rng: random.Random, n: int) -> Dict[str, List[float]]:
    objs = mem.objects()
    classes = sorted({mem.get_object(o).class_name for o in objs})
    rooms = list(mem.rooms())
    eps = mem.episodes()
    t_lo, t_hi = eps[0][0], mem.now_ns()
    places = [p.place_id for p in mem.places()]
    kinds = {
        "last_seen": lambda: mem.last_seen(rng.choice(classes)),
        "last_seen_before": lambda: mem.last_seen(rng.choice(classes), before_ns=rng.randint(t_lo, t_hi)),
        "where_at": lambda: mem.where_at(rng.choice(objs), rng.randint(t_lo, t_hi)),
        "history_week": lambda: mem.history(rng.choice(classes), t_hi - 7 * NS_PER_DAY, t_hi),
        "objects_in_room": lambda: mem.objects_in(room_id=rng.choice(rooms)),
        "objects_in_room_past": lambda: mem.objects_in(room_id=rng.choice(rooms), t_ns=rng.randint(t_lo, t_hi)),
        "count": lambda: mem.count(rng.choice(classes), room_id=rng.choice(rooms)),
        "changes_day": lambda: mem.changes(t_hi - NS_PER_DAY, t_hi),
        "p_still_there": lambda: mem.p_still_there(rng.choice(objs), t_hi),
        "absences": lambda: mem.absences(rng.choice(objs), t_hi - 7 * NS_PER_DAY),
        "path": lambda: mem.path_between_places(rng.choice(places), rng.choice(places)),
    }
    names = list(kinds)
    for k in names:                  # warm-up (caches, lazy imports)
        kinds[k]()
    out: Dict[str, List[float]] = {k: [] for k in names}
    for i in range(n):
        k = names[i % len(names)]
        t = time.perf_counter()
        kinds[k]()
        out[k].append((time.perf_counter() - t) * 1e3)
    return out


def _sparse_days(cfg: SynthConfig, days: int):
    world = SyntheticHousehold(cfg)
    for d in range(days):
        yield [f.out for f in world.day(d)]


def _snapshot(mem: MemoryCore, path: str) -> None:
    """A consistent copy of ``mem``'s committed store at ``path`` (SQLite's online backup) with its
    keyframe files: the store a run of this many days would have left."""
    st = mem.store
    assert st is not None
    dst = sqlite3.connect(path)
    try:
        st.connection.backup(dst)
    finally:
        dst.close()
    if st.keyframe_dir.is_dir():
        shutil.copytree(st.keyframe_dir, path + ".keyframes")


def bench_recall(tmp: str, vocab: Vocabulary, horizons: List[int], n_queries: int, sparse: SynthConfig
                 ) -> Dict[str, float]:
    """One store is built over max(horizons) days; at each shorter horizon its committed state is copied
    aside (the same store a run of that many days leaves: the household is seeded, ingest deterministic),
    and each copy is reopened and queried in turn."""
    res: Dict[str, float] = {}
    rng = random.Random(5)
    horizons = sorted(horizons)
    paths = {days: os.path.join(tmp, f"recall_{days}d.db") for days in horizons}
    longest = paths[horizons[-1]]
    sc = _store_config(longest, durable=False)
    mem = MemoryCore.open(longest, MemoryConfig(store=sc), vocab=vocab)
    build_s = 0.0
    # the frames are made ahead in a child process (not timed; seeded: the same frames in line)
    for d, outs in enumerate(generated_ahead(_sparse_days, (sparse, horizons[-1]), 4)):
        t = time.perf_counter()
        for out in outs:
            mem.ingest(out)
        build_s += time.perf_counter() - t
        if d + 1 in paths:
            t = time.perf_counter()
            mem.commit()
            build_s += time.perf_counter() - t
            res[f"build_s_{d + 1}d"] = build_s
            if d + 1 != horizons[-1]:
                _snapshot(mem, paths[d + 1])
    mem.close()
    for days in horizons:
        path = paths[days]
        rss0 = _rss_mb()
        t = time.perf_counter()
        mem = MemoryCore.open(path, vocab=vocab)
        open_s = time.perf_counter() - t
        rss1 = _rss_mb()
        lat = _query_mix(mem, rng, n_queries)
        allq = [x for v in lat.values() for x in v]
        res[f"recall_p50_ms_{days}d"] = _pct(allq, 50)
        res[f"recall_p95_ms_{days}d"] = _pct(allq, 95)
        res[f"recall_max_ms_{days}d"] = max(allq)
        res[f"open_s_{days}d"] = open_s
        res[f"ram_mb_per_day_{days}d"] = max(0.0, rss1 - rss0) / days
        res[f"observations_{days}d"] = mem.count_observations()
        res[f"objects_{days}d"] = len(mem.objects())
        res[f"db_mb_per_day_{days}d"] = _dir_mb_files(path) / days
        if days == max(horizons):
            for k, v in lat.items():
                res[f"recall_p95_ms_{days}d_{k}"] = _pct(v, 95)
        mem.close()
        for suffix in ("", "-wal", "-shm", ".lock"):
            try:
                os.remove(path + suffix)
            except OSError:
                pass
        shutil.rmtree(path + ".keyframes", ignore_errors=True)
    return res


def _dir_mb_files(path: str) -> float:
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p)) / 1e6


def bench_disk(tmp: str, vocab: Vocabulary, days: int, cfg: SynthConfig) -> Dict[str, float]:
    """Disk per day with keyframes and the retention policy (all for 7 days, then thinned)."""
    path = os.path.join(tmp, "disk.db")
    mem, _ = _build_store(path, days, cfg, vocab, durable=False)
    st = mem.store
    b = st.disk_bytes()
    views = st.query("SELECT count(*) FROM views")[0][0]
    kept = st.query("SELECT count(*) FROM keyframes WHERE thinned = 0")[0][0]
    obs = mem.count_observations()
    mem.close()
    total_mb = (b["database"] + b["keyframes"]) / 1e6
    return {"disk_mb_per_day": total_mb / days, "disk_days": days, "keyframes_kept_frac": kept / max(1, views),
            "db_mb_per_day": b["database"] / 1e6 / days, "keyframes_mb_per_day": b["keyframes"] / 1e6 / days,
            "observations_per_day": obs / days, "db_bytes_per_observation": b["database"] / max(1, obs)}


# ------------------------------------------------------------------------------------------ main


def run(quick: bool) -> Dict[str, object]:
    vocab = Vocabulary(VocabConfig(allow_model=False))
    tmp = tempfile.mkdtemp(prefix="bench_memory_")
    out: Dict[str, object] = {"mode": "quick" if quick else "full"}
    t0 = time.perf_counter()
    try:
        sparse = (SynthConfig(seed=3, n_rooms=5, objects_per_room=8, stops_per_room=1, yaw_steps=16, view_every=2)
                  if quick else
                  SynthConfig(seed=3, n_rooms=5, objects_per_room=12, stops_per_room=2, yaw_steps=24, view_every=2))
        out.update(bench_identity([1] if quick else [1, 2, 3], 7, vocab))
        if not quick:
            out.update(bench_identity_laeqa(0, 5, vocab))
        out.update(bench_ingest(tmp, vocab, 1 if quick else 2))
        out.update(bench_recall(tmp, vocab, [7, 30, 365], 330 if quick else 1100, sparse))
        disk_cfg = SynthConfig(seed=4, n_rooms=5, objects_per_room=8, stops_per_room=1 if quick else 2,
                               yaw_steps=12 if quick else 24, view_every=2, jpeg_bytes=20_000)
        out.update(bench_disk(tmp, vocab, 14 if quick else 30, disk_cfg))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out["bench_seconds"] = time.perf_counter() - t0
    return out


GOALS = {"recall_p95_ms_365d": ("<=", 50.0), "ingest_fps": (">=", 30.0), "id_switches_per_day": ("<=", 2.0)}


def print_table(res: Dict[str, object]) -> None:
    rows = [
        ("ingest", "ingest_fps", "frames/s (durable, 20 kB keyframes)"),
        ("", "ingest_obs_per_s", "observations/s"),
        ("", "ingest_obs_per_frame", "observations per frame"),
        ("recall 7 d", "recall_p50_ms_7d", "p50 ms"), ("", "recall_p95_ms_7d", "p95 ms"),
        ("recall 30 d", "recall_p50_ms_30d", "p50 ms"), ("", "recall_p95_ms_30d", "p95 ms"),
        ("recall 365 d", "recall_p50_ms_365d", "p50 ms"), ("", "recall_p95_ms_365d", "p95 ms"),
        ("", "recall_max_ms_365d", "max ms"), ("", "open_s_365d", "s to open the store"),
        ("", "observations_365d", "observations stored"),
        ("disk", "disk_mb_per_day", "MB/day (db + keyframes, retention on)"),
        ("", "db_mb_per_day", "MB/day database"), ("", "keyframes_mb_per_day", "MB/day keyframes"),
        ("", "keyframes_kept_frac", "keyframes kept"), ("", "db_bytes_per_observation", "db bytes/observation"),
        ("RAM", "ram_mb_per_day_365d", "MB/day resident (365 d store)"),
        ("identity", "id_switches_per_day", "switches/day (distinguishable objects)"),
        ("", "id_switches_per_day_raw", "switches/day incl. look-alike swaps"),
        ("", "lookalike_switches_per_day", "swaps among identical-looking objects/day"),
        ("", "missed_objects_frac", "objects never confirmed"),
        ("", "false_objects_per_day", "false objects/day"), ("", "moved_events_recall", "moves found"),
        ("", "moved_events_precision", "moves correct"), ("", "identity_days", "days scored"),
        ("", "id_switches_per_day_laeqa", "switches/day, LA-EQA perception emulator"),
        ("", "id_switches_per_day_laeqa_raw", "... incl. look-alike swaps"),
    ]
    sys.stdout.write(f"memory benchmark ({res.get('mode')}; identity from {res.get('identity_source')})\n")
    sys.stdout.write(f"{'section':<14}{'metric':<28}{'value':>12}  {'unit':<40}{'goal'}\n")
    for sec, key, unit in rows:
        v = res.get(key)
        if v is None:
            continue
        goal = ""
        if key in GOALS:
            op, lim = GOALS[key]
            ok = v <= lim if op == "<=" else v >= lim
            goal = f"{op} {lim:g} {'ok' if ok else 'MISSED'}"
        sys.stdout.write(f"{sec:<14}{key:<28}{v:>12.3f}  {unit:<40}{goal}\n")
    sys.stdout.write(f"(took {res.get('bench_seconds', 0):.1f} s)\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller runs, under a minute")
    ap.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    args = ap.parse_args(argv)
    res = run(args.quick)
    print_table(res)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
