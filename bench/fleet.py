"""Fleet benchmark: robots sharing one PostgreSQL server, with a server crash (kill -9) mid-ingest.

    python -m bench.fleet --quick [--json out/fleet.json]    # 10 robots x 2 patrol days, ~25-40 s here
    python -m bench.fleet                                    # 100 robots x 30 days of bench.scale's dense
                                                             #   household (5 Hz all day): see below
    python -m bench.fleet --robots N --days D [--household synthetic|scale] [--keep DIR]

Flow: a throwaway PostgreSQL server (memory_nodes/memory/repository/pg_server.py: initdb + pg_ctl on a unix
socket in a temp folder, durability settings as shipped: fsync and synchronous_commit on) holds the fleet
tables. Each robot is a thread with its own household (a seed of its own), its own memory on a local
SQLite store (``MemoryCore.ingest`` exactly as the memory node runs it; synchronous=NORMAL, as a process
crash, not a power cut, is what is tested) and its own outbox shipper thread (repository/fleet.py: the
local observations are the outbox, shipped in id order with INSERT ... ON CONFLICT DO NOTHING and the
robot's watermark in one transaction, retried with a doubling backoff). Frames are generated before the
clock starts. When the server holds ``--kill-at`` of the expected rows, its postmaster is SIGKILLed, left
down ``--down-s``, and restarted (crash recovery); robots keep ingesting locally throughout. Then every
shipper drains, and:

    fleet_duplicates_after_restart   rows on the server minus distinct (robot, stamp, view, label, centroid)
                                     contents: a row shipped twice under any key
    fleet_lost_after_restart         rows the server had confirmed before the kill and lacks right after
                                     the restart (durability), plus rows the robots committed locally (their
                                     acknowledgement) that are not on the server after the drain (catch-up)
    fleet_recall_p95_ms              cross-robot questions ("which robot saw <class> last", "has any robot
                                     seen <class> since <day start>") asked through each robot's FleetView,
                                     open loop: every robot asks at random moments (Poisson, --ask-rate per
                                     robot per second, 2 by default: far busier than a household), each timed
                                     from when it was due; fleet_recall_p95_ms_all_at_once: every robot asking
                                     back to back at once (a stress: with 100 robots as threads of this one
                                     process on a 2-core machine it measures the client's queue, not the server)
    fleet_ingest_obs_per_s           observations reaching the server per second of the ingest phase
                                     (kill and downtime included); fleet_local_obs_per_s: ingested locally

Full mode (100 robots x 30 days of bench.scale's household, 5 Hz frames on its ten passes a day: ~1.3 k
observations per robot-day, ~3.9 M in all, plus a 20 M-row capacity probe) is ingest-bound: the robots'
MemoryCore ingest runs as threads of one process (~670 observations/s on this loaded 2-core machine: 30
robots x 4 days took 4.6 min), so ~2 h here; frames are then generated while ingesting (they do not fit in
memory). A real fleet ingests on 100 robots' own CPUs: the server's side is what the capacity probe shows.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional

import numpy as np

from memory_nodes.memory import MemoryConfig, MemoryCore
from memory_nodes.memory.config import NS_PER_DAY, StoreConfig
from memory_nodes.memory.repository.fleet import FleetServer, Shipper
from memory_nodes.memory.repository.fleet_view import FleetView
from memory_nodes.memory.repository.pg_server import ThrowawayServer, unavailable_reason
from memory_nodes.memory.synthetic import SMALL, SynthConfig, SyntheticHousehold
from memory_nodes.vocab import VocabConfig, Vocabulary


@dataclass
class Robot:
    robot_id: str
    path: str
    memory: MemoryCore
    shipper: Shipper
    frames: Iterable            # PerceptionOutput frames: a list (generated before the clock) or a generator
    done: bool = False
    ingest_s: float = 0.0
    error: str = ""


def _progress(label: str, frac: float, extra: str = "") -> None:
    n = int(30 * min(1.0, max(0.0, frac)))
    sys.stderr.write(f"\r[fleet] {label:<10} [{'#' * n}{'.' * (30 - n)}] {100 * frac:5.1f}% {extra:<40}")
    sys.stderr.flush()


def _obs_ids_direct(server: FleetServer, robot_id: str, through: int) -> List[int]:
    import psycopg
    deadline = time.monotonic() + 30.0
    while True:
        try:
            with psycopg.connect(server.conninfo, autocommit=True, connect_timeout=5) as c:
                c.execute(f"SET search_path TO {server.schema}")
                return [int(i) for (i,) in c.execute("SELECT obs_id FROM fleet_observations WHERE robot_id = %s "
                                                     "AND obs_id <= %s", (robot_id, through))]
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _retrying(fn, timeout_s: float = 60.0):
    """fn() retried while the server (or the pool's reconnect after its restart) is not ready."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return fn()
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _world(seed: int, household: str):
    if household == "scale":
        from bench.scale import ScaleConfig, ScaleHousehold
        return ScaleHousehold(ScaleConfig(seed=seed))
    return SyntheticHousehold(SynthConfig(seed=seed, jpeg_bytes=200, objects_per_room=8, view_every=5))  # 1 Hz views


def _frames(seed: int, days: int, household: str, lazy: bool) -> Iterable:
    """A robot's frames: generated now (quick: not timed) or day by day while it ingests (a long run: 100
    robots x 30 days of frames do not fit in memory; generation then counts in the local ingest rate)."""
    world = _world(seed, household)
    gen = (f.out for d in range(days) for f in world.day(d))
    return gen if lazy else list(gen)


def run(robots: int, days: int, household: str, kill_at: float, down_s: float, queries: int,
        keep: Optional[str] = None, capacity_rows: int = 0, capacity_robots: int = 100,
        ask_rate: float = 2.0) -> Dict:
    logging.getLogger("psycopg").setLevel(logging.CRITICAL)   # pool reconnect noise while the server is down
    vocab = Vocabulary(VocabConfig(allow_model=False))
    t_all = time.monotonic()
    work = tempfile.mkdtemp(prefix="fleet", dir=keep)
    pg = ThrowawayServer()                 # initdb
    fig: Dict = {"fleet_initdb_s": round(time.monotonic() - t_all, 2), "fleet_robots": robots, "fleet_days": days,
                 "fleet_household": household}
    try:
        t0 = time.monotonic()
        pg.start()
        url = pg.create_database("fleet")
        server = FleetServer(url, pool_size=min(32, robots + 4))
        fig["fleet_server_start_s"] = round(time.monotonic() - t0, 2)
        sys.stderr.write(f"[fleet] server up in {fig['fleet_server_start_s']} s ({pg.root}); generating frames\n")

        t_setup = time.monotonic()
        cfg = MemoryConfig()
        cfg.store = StoreConfig(synchronous="NORMAL", fsync_keyframes=False)
        fleet: List[Robot] = []
        lazy = robots * days > 100
        for i in range(robots):
            rid = f"robot{i:03d}"
            path = os.path.join(work, f"{rid}.db")
            mem = MemoryCore.open(path, cfg, vocab)
            fleet.append(Robot(rid, path, mem, Shipper(rid, path, server), _frames(1000 + i, days, household, lazy)))
            _progress("frames", (i + 1) / robots)
        if lazy:      # estimated from one robot-day (households differ by seed only)
            one_day = [f.out for f in _world(1000, household).day(0)]
            total_frames = len(one_day) * robots * days
            expected = sum(len(f.observations) for f in one_day) * robots * days
        else:
            total_frames = sum(len(list(r.frames)) for r in fleet)
            expected = sum(sum(len(f.observations) for f in r.frames) for r in fleet)
        sys.stderr.write(f"\n[fleet] {robots} robots, {total_frames} frames, {expected} observations offered"
                         f"{' (estimated)' if lazy else ''}\n")

        fig["fleet_setup_s"] = round(time.monotonic() - t_setup, 2)        # frames generated, stores opened
        stop = threading.Event()
        shippers = [threading.Thread(target=r.shipper.run, args=(stop,), daemon=True) for r in fleet]

        def ingest(r: Robot) -> None:
            t = time.monotonic()
            try:
                for f in r.frames:
                    r.memory.ingest(f)
                r.memory.commit()
            except Exception as e:            # reported, not hidden
                r.error = f"{type(e).__name__}: {e}"
            r.ingest_s = time.monotonic() - t
            r.done = True

        workers = [threading.Thread(target=ingest, args=(r,), daemon=True) for r in fleet]
        t_ingest = time.monotonic()
        for th in shippers + workers:
            th.start()
        killed = False
        killed_during = ""
        acked_at_kill: Dict[str, int] = {}
        server_missing_acked = 0
        kill_t = restart_s = 0.0

        def maybe_kill(phase: str) -> int:
            """Kill -9 the postmaster once the server holds kill_at of the expected rows while rows are still
            on their way (during the ingest, or, when the shippers lag behind it, during the drain); restart;
            check what it had confirmed."""
            nonlocal killed, killed_during, kill_t, restart_s, server_missing_acked
            shipped = sum(max(0, r.shipper.acked_through) for r in fleet)   # ids ~ rows per robot
            if killed or shipped < kill_at * expected:
                return shipped
            if phase == "drain" and sum(r.shipper.local_max_id() for r in fleet) <= shipped:
                return shipped                  # nothing left in flight: a kill now would test nothing mid-way
            acked_at_kill.update({r.robot_id: r.shipper.acked_through for r in fleet})
            kill_t = time.monotonic() - t_ingest
            pg.kill9()
            killed, killed_during = True, phase
            sys.stderr.write(f"\n[fleet] kill -9 of the postmaster at {kill_t:.1f} s, during the {phase} "
                             f"({shipped} rows acknowledged by the server)\n")
            time.sleep(down_s)
            t_r = time.monotonic()
            pg.start()
            restart_s = time.monotonic() - t_r
            # durability: everything the server confirmed before the kill is there after recovery (read on a
            # connection of its own: the pool is busy reconnecting the shippers)
            for r in fleet:
                a = acked_at_kill[r.robot_id]
                if a > 0:
                    have = set(_obs_ids_direct(server, r.robot_id, a))
                    want = {i for (i,) in r.shipper._local.execute(
                        "SELECT id FROM observations WHERE id <= ?", (a,))}
                    server_missing_acked += len(want - have)
            return shipped

        while not all(r.done for r in fleet):
            shipped = maybe_kill("ingest")
            local = sum(r.memory.count_observations() for r in fleet)
            _progress("ingest", local / max(1, expected), f"server {shipped} rows, shipper failures "
                      f"{sum(r.shipper.failures for r in fleet)}")
            time.sleep(0.05)
        for th in workers:
            th.join()
        # drain: every shipper catches up with what its robot committed (the kill comes here if the shippers
        # had not shipped kill_at of the rows while the robots ingested: many robots' ingest threads in one
        # process starve their shippers)
        t_drain = time.monotonic()
        while True:
            maybe_kill("drain")
            behind = sum(r.shipper.local_max_id() - max(0, r.shipper.acked_through) for r in fleet)
            if behind <= 0 or time.monotonic() - t_drain > 300:
                break                           # (never killed: fewer rows than kill_at; the JSON says so)
            _progress("drain", 1.0 - behind / max(1, expected), f"server behind by {behind} rows")
            time.sleep(0.05)
        ingest_s = time.monotonic() - t_ingest
        fig["fleet_ingest_s"] = round(ingest_s, 2)
        stop.set()
        for th in shippers:
            th.join(timeout=5)
        t_count = time.monotonic()
        sys.stderr.write(f"\n[fleet] ingest + drain {ingest_s:.1f} s; counting\n")

        rows, distinct = _retrying(server.counts)     # the pool may still be reconnecting after the restart
        local_lost = 0
        local_total = 0
        for r in fleet:
            mine = {i for (i,) in r.shipper._local.execute("SELECT id FROM observations")}
            local_total += len(mine)
            local_lost += len(mine - set(_retrying(lambda rid=r.robot_id: server.obs_ids(rid))))

        fig["fleet_count_s"] = round(time.monotonic() - t_count, 2)
        # cross-robot recall, twice. Open loop (the figure): every robot asks at its own pace, questions
        # arriving at random (Poisson) at ask_rate per robot per second, each timed from the moment it was due
        # (a late start counts); then closed loop (a stress): every robot asks back to back, all at once.
        classes = list(SMALL)
        day_start = (max(r.memory.now_ns() for r in fleet) // NS_PER_DAY) * NS_PER_DAY
        answered = [0, 0]
        lat_lock = threading.Lock()

        def ask(r: Robot, n: int, seed: int, lat: List[float], rate: float) -> None:
            view = FleetView(r.robot_id, r.memory, server)
            rng = random.Random(seed)
            due = time.perf_counter() + (rng.expovariate(rate) if rate > 0 else 0.0)
            for k in range(n):
                c = rng.choice(classes)
                if rate > 0:
                    wait = due - time.perf_counter()
                    if wait > 0:
                        time.sleep(wait)
                t = due if rate > 0 else time.perf_counter()
                a = view.which_robot_saw_last(c) if k % 2 == 0 else view.seen_since(c, day_start)
                dt = (time.perf_counter() - t) * 1e3
                due += rng.expovariate(rate) if rate > 0 else 0.0
                with lat_lock:
                    lat.append(dt)
                    answered[0] += 1
                    answered[1] += int(bool(a.sightings) and a.source == "fleet")

        def ask_all(rate: float) -> List[float]:
            lat: List[float] = []
            per = max(1, queries // robots)
            askers = [threading.Thread(target=ask, args=(r, per, i, lat, rate)) for i, r in enumerate(fleet)]
            for th in askers:
                th.start()
            for th in askers:
                th.join()
            return lat

        t_recall = time.monotonic()
        lat = ask_all(ask_rate)
        open_answered = list(answered)
        fig["fleet_recall_open_loop_s"] = round(time.monotonic() - t_recall, 2)
        t_closed = time.monotonic()
        lat_closed = ask_all(0.0)
        fig.update({"fleet_recall_ask_rate_per_robot_per_s": ask_rate,
                    "fleet_recall_p95_ms_all_at_once": round(float(np.percentile(lat_closed, 95)), 2),
                    "fleet_recall_p50_ms_all_at_once": round(float(np.percentile(lat_closed, 50)), 2),
                    "fleet_recall_all_at_once_s": round(time.monotonic() - t_closed, 2)})

        fig.update({
            "fleet_observations_offered": local_total if lazy else expected,     # lazy: ingest skips none
            "fleet_observations_local": local_total,
            "fleet_observations_server": rows,
            "fleet_ingest_obs_per_s": round(rows / ingest_s, 1),
            "fleet_local_obs_per_s": round(local_total / max(1e-9, max(r.ingest_s for r in fleet)), 1),
            "fleet_recall_p95_ms": round(float(np.percentile(lat, 95)), 2),
            "fleet_recall_p50_ms": round(float(np.percentile(lat, 50)), 2),
            "fleet_recall_queries": open_answered[0],
            "fleet_recall_answered_from_fleet": open_answered[1],
            "fleet_duplicates_after_restart": rows - distinct,
            "fleet_lost_after_restart": server_missing_acked + local_lost,
            "fleet_lost_server_acked": server_missing_acked,
            "fleet_lost_local_acked": local_lost,
            "fleet_kill_at_s": round(kill_t, 2),
            "fleet_restart_s": round(restart_s, 2),
            "fleet_down_s": down_s,
            "fleet_shipper_failures": sum(r.shipper.failures for r in fleet),
            "fleet_robot_errors": [r.error for r in fleet if r.error],
            "fleet_server_killed": killed,
            "fleet_server_killed_during": killed_during,
        })
        for r in fleet:
            r.shipper.close()
            r.memory.close()
        fig["fleet_recall_s"] = round(time.monotonic() - t_recall, 2)
        if capacity_rows > 0:
            t_cap = time.monotonic()
            fig.update(_capacity(server, capacity_rows, capacity_robots, robots))
            fig["fleet_capacity_s"] = round(time.monotonic() - t_cap, 2)
        server.close()
    finally:
        pg.cleanup()
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)
    fig["fleet_total_s"] = round(time.monotonic() - t_all, 1)
    return fig


def _capacity(server: FleetServer, n_rows: int, n_robots: int, askers: int) -> Dict:
    """Where one server's limit lies: ``n_rows`` more sightings of ``n_robots`` synthetic robots loaded
    server-side (generate_series: a 5 Hz stream, 5 detections a frame), then the cross-robot questions
    timed over that history from ``askers`` threads, then the write rate of 16 shippers at once (batches of
    1000, as the outbox ships them)."""
    classes = list(SMALL)
    t0 = time.monotonic()
    sys.stderr.write(f"[fleet] capacity: loading {n_rows} sightings of {n_robots} robots server-side\n")
    with server.pool.connection() as c:
        c.execute("INSERT INTO fleet_classes SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING", (classes,))
        c.execute("INSERT INTO fleet_observations SELECT 'load' || lpad((g %% %s)::text, 3, '0'), g, "
                  "(g / %s / 5)::bigint * 200000000, (g / %s) %% 500, (%s::text[])[1 + (g %% %s)], 'load', 0.8, "
                  "g %% 40, g %% 8, 'v', 1, 2, 3 FROM generate_series(1, %s) g",
                  (n_robots, n_robots, n_robots, classes, len(classes), n_rows))
        c.execute("INSERT INTO fleet_last_seen SELECT DISTINCT ON (robot_id, class) robot_id, class, obs_id, "
                  "stamp_ns FROM fleet_observations WHERE robot_id LIKE 'load%%' ORDER BY robot_id, class, "
                  "stamp_ns DESC, obs_id DESC ON CONFLICT DO NOTHING")
        c.execute("ANALYZE")
        n = int(c.execute("SELECT count(*) FROM fleet_observations").fetchone()[0])   # what recall is asked over
    load_s = time.monotonic() - t0
    last = (n_rows // n_robots // 5) * 200_000_000
    lat: List[float] = []
    lock = threading.Lock()

    def ask(seed: int) -> None:
        rng = random.Random(seed)
        for k in range(30):
            c, t = rng.choice(classes), time.perf_counter()
            if k % 4 == 0:                     # a window in the past: the (class, stamp) index of the history
                server.last_seen_by_any([c], before_ns=rng.randrange(last + 1))
            elif k % 2:
                server.last_seen_by_any([c])
            else:
                server.seen_since([c], max(0, last - NS_PER_DAY))
            with lock:
                lat.append((time.perf_counter() - t) * 1e3)

    ths = [threading.Thread(target=ask, args=(i,)) for i in range(askers)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    sent = [0]
    stop_at = time.monotonic() + 1.0

    def ship(i: int) -> None:
        k = 0
        while time.monotonic() < stop_at:
            rows = [(k + j + 1, (k + j) * 40_000_000, 1, classes[j % len(classes)], "cap", 0.7, 1, 1, "v", 1.0, 2.0,
                     3.0) for j in range(1000)]
            server.ship(f"cap{i:03d}", f"cap-store-{i}", rows)
            k += 1000
            with lock:
                sent[0] += 1000

    t1 = time.monotonic()
    ths = [threading.Thread(target=ship, args=(i,)) for i in range(16)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    with server.pool.connection() as c:
        size = int(c.execute("SELECT pg_total_relation_size('fleet_observations')").fetchone()[0])
        total = int(c.execute("SELECT count(*) FROM fleet_observations").fetchone()[0])
    return {"fleet_capacity_rows": n, "fleet_capacity_load_s": round(load_s, 1),
            "fleet_capacity_bytes_per_row": round(size / max(1, total), 1),
            "fleet_capacity_recall_p95_ms": round(float(np.percentile(lat, 95)), 2),
            "fleet_capacity_write_obs_per_s": round(sent[0] / (time.monotonic() - t1), 1)}


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="10 robots x 2 patrol days of the synthetic household")
    ap.add_argument("--json", default=None, help="write the figures here")
    ap.add_argument("--robots", type=int, default=None)
    ap.add_argument("--days", type=int, default=None)
    ap.add_argument("--household", choices=("synthetic", "scale"), default=None)
    ap.add_argument("--kill-at", type=float, default=0.4, help="kill the server when it holds this share")
    ap.add_argument("--down-s", type=float, default=1.0, help="seconds the server stays down")
    ap.add_argument("--queries", type=int, default=None, help="cross-robot questions in all (each of the two "
                    "recall measurements)")
    ap.add_argument("--ask-rate", type=float, default=2.0,
                    help="open-loop recall: questions per robot per second (Poisson arrivals)")
    ap.add_argument("--keep", default=None, help="keep the robots' stores under this folder")
    ap.add_argument("--capacity-rows", type=int, default=None,
                    help="server-side history loaded for the capacity probe (0: none)")
    a = ap.parse_args(argv)
    why = unavailable_reason()
    if why:
        print(f"bench.fleet: {why}", file=sys.stderr)
        return 2
    robots = a.robots or (10 if a.quick else 100)
    days = a.days or (2 if a.quick else 30)
    household = a.household or ("synthetic" if a.quick else "scale")
    queries = a.queries or (200 if a.quick else 5000)
    cap = a.capacity_rows if a.capacity_rows is not None else (100_000 if a.quick else 20_000_000)
    fig = run(robots, days, household, a.kill_at, a.down_s, queries, a.keep, cap, ask_rate=a.ask_rate)
    rows = [("robots", fig["fleet_robots"]), ("observations offered", fig["fleet_observations_offered"]),
            ("committed locally", fig["fleet_observations_local"]),
            ("on the server", fig["fleet_observations_server"]),
            ("server ingest obs/s", fig["fleet_ingest_obs_per_s"]),
            ("local ingest obs/s", fig["fleet_local_obs_per_s"]),
            ("kill -9 at s / restart s", f"{fig['fleet_kill_at_s']} / {fig['fleet_restart_s']}"),
            ("shipper failures (retried)", fig["fleet_shipper_failures"]),
            ("duplicates after restart", fig["fleet_duplicates_after_restart"]),
            ("lost after restart", f"{fig['fleet_lost_after_restart']} (server-acked "
                                   f"{fig['fleet_lost_server_acked']}, robot-acked {fig['fleet_lost_local_acked']})"),
            ("kill -9 during", fig["fleet_server_killed_during"] or "never (fewer rows than --kill-at)"),
            ("recall p50 / p95 ms", f"{fig['fleet_recall_p50_ms']} / {fig['fleet_recall_p95_ms']} (open loop, "
                                    f"{fig['fleet_recall_ask_rate_per_robot_per_s']:g} questions per robot per s)"),
            ("recall p50 / p95 ms, all at once", f"{fig['fleet_recall_p50_ms_all_at_once']} / "
                                                 f"{fig['fleet_recall_p95_ms_all_at_once']} ({robots} robots "
                                                 "asking back to back)"),
            ("total s", fig["fleet_total_s"])]
    if "fleet_capacity_rows" in fig:
        rows[-1:-1] = [("capacity: rows on the server", fig["fleet_capacity_rows"]),
                       ("capacity: recall p95 ms", fig["fleet_capacity_recall_p95_ms"]),
                       ("capacity: write obs/s (16 shippers)", fig["fleet_capacity_write_obs_per_s"]),
                       ("capacity: bytes per row (with indexes)", fig["fleet_capacity_bytes_per_row"])]
    print()
    for k, v in rows:
        print(f"  {k:<36} {v}")
    if fig["fleet_robot_errors"]:
        print(f"  robot errors: {fig['fleet_robot_errors'][:3]}")
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump(fig, f, indent=1)
    return 0 if not fig["fleet_robot_errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
