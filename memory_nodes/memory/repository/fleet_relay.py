"""The fleet's command line: the outbox relay beside a robot's memory node, and cross-robot questions from a
shell (fleet.py holds the server, the shipper and the view they use).

    python -m memory_nodes.memory.repository.fleet_relay ship --store DATA_DIR/memory.db --robot-id R --url URL
    python -m memory_nodes.memory.repository.fleet_relay ask --url URL "my keys" [--since-ns T]
"""
from __future__ import annotations

import threading
from typing import Optional, Sequence, Tuple

from ...common.errors import StoreError
from .fleet import FleetConfig, FleetServer, Shipper, fleet_robot_id, redact_url


def relay_settings(params_files: Sequence[str], namespace: str = "", data_dir: str = "data", url: str = "",
                   robot_id: str = "", store: str = "") -> Tuple[FleetConfig, str]:
    """The relay's FleetConfig and the store it ships, from ROS parameter files read as rcl reads them
    (``fleet.*`` for node ``fleet_shipper``, ``store.*`` for node ``memory``, both in ``namespace``; later
    files win) and the command line's non-empty values, which win. The robot id is resolved
    (fleet_robot_id). StoreError: a bad value, or a memory whose store is not a SQLite file."""
    import os

    from ...common.config import ConfigError, config_from_dict, load_node_params
    fleet: dict = {}
    mem_store: dict = {}
    try:
        for f in params_files:
            fleet.update(load_node_params(f, "fleet_shipper", namespace or "").get("fleet", {}) or {})
            mem_store.update(load_node_params(f, "memory", namespace or "").get("store", {}) or {})
        if url:
            fleet["url"] = url
        if robot_id:
            fleet["robot_id"] = robot_id
        cfg = config_from_dict(FleetConfig, fleet, prefix="fleet.")
    except ConfigError as e:
        raise StoreError(str(e)) from e
    cfg.robot_id = fleet_robot_id(cfg.robot_id, namespace)
    if not store:
        if str(mem_store.get("url", "") or ""):
            raise StoreError("the memory's store.url is a server store: the relay ships a robot's SQLite store "
                             "(store.url empty, store.path)")
        store = str(mem_store.get("path", "memory.db") or "memory.db")
        if not os.path.isabs(store):
            store = os.path.join(data_dir, store)
    return cfg, store


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m memory_nodes.memory.repository.fleet_relay ship|ask``: the outbox relay beside a robot's memory
    node (its own process: the node's store is read through a read-only connection), and the cross-robot
    questions from a shell."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m memory_nodes.memory.repository.fleet_relay",
                                 description="ship a robot's memory to the fleet server, or ask the fleet")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("ship", help="ship the store's committed observations until SIGINT/SIGTERM")
    s.add_argument("--store", default="", help="the robot's SQLite store (default: the memory node's store.path "
                                               "from --params-file, under --data-dir)")
    s.add_argument("--robot-id", default="", help="default: fleet.robot_id, else the namespace, else the host name")
    s.add_argument("--url", default="", help="postgresql://... of the fleet server (default: fleet.url); empty: "
                                             "no fleet, exit at once")
    s.add_argument("--params-file", action="append", default=[],
                   help="ROS parameter files (config/fleet.yaml, config/memory.yaml, site overrides), in order: "
                        "fleet.* as the relay's (node fleet_shipper), store.path as the memory node's")
    s.add_argument("--namespace", default="", help="the robot's ROS namespace (which params-file sections apply)")
    s.add_argument("--data-dir", default="data", help="a relative store.path is under it (as the memory node's)")
    s.add_argument("--once", action="store_true", help="catch up once, then exit")
    q = sub.add_parser("ask", help="which robot saw X last; with --since-ns, every robot that saw X since then")
    q.add_argument("--url", required=True)
    q.add_argument("what")
    q.add_argument("--since-ns", type=int, default=None)
    a = ap.parse_args(list(sys.argv[1:] if argv is None else argv))
    import logging
    logging.getLogger("psycopg").setLevel(logging.CRITICAL)
    cfg = FleetConfig()
    if a.cmd == "ship":
        try:
            cfg, store = relay_settings(a.params_file, a.namespace, a.data_dir, a.url, a.robot_id, a.store)
        except StoreError as e:
            print(f"fleet relay: {e}", file=sys.stderr)
            return 1
        if not cfg.url:
            print("fleet relay: fleet.url is empty: no fleet, nothing shipped", flush=True)
            return 0
        a.url, a.robot_id, a.store = cfg.url, cfg.robot_id, store
        if not a.once:
            return _relay(a.url, a.robot_id, a.store, cfg)
    try:
        server = FleetServer(a.url)
    except Exception as e:
        print(f"fleet server {redact_url(a.url)}: {e}", file=sys.stderr)
        return 1
    try:
        if a.cmd == "ask":
            from ...vocab import VocabConfig, Vocabulary
            vocab = Vocabulary(VocabConfig(allow_model=False))
            res = vocab.resolve_class(a.what, allow_model=False)
            general = res[0] if res else vocab.canonical(a.what)
            classes = [c for c in server.classes() if c == general or vocab.is_a(c, general)] or [general]
            hits = server.seen_since(classes, a.since_ns) if a.since_ns is not None else \
                [h for h in [server.last_seen_by_any(classes)] if h is not None]
            for h in hits:
                print(f"{h.robot_id}: {h.class_name} (detected as {h.label}) at {h.stamp_ns} ns, place {h.place_id}, "
                      f"room {h.room_id}, ({h.position_m[0]:.2f}, {h.position_m[1]:.2f}, {h.position_m[2]:.2f}) m; "
                      f"evidence: obj_{h.object_id} observation {h.observation_id} view {h.view_id or '-'}")
            if not hits:
                print(f"no robot has seen {a.what!r}" + ("" if a.since_ns is None else f" since {a.since_ns} ns"))
            return 0
        shipper = Shipper(a.robot_id, a.store, server, batch=cfg.batch,
                          backoff_s=(cfg.backoff_min_s, cfg.backoff_max_s))
        while shipper.ship_once():
            pass
        print(f"{a.robot_id}: shipped through observation {shipper.acked_through} ({shipper.batches} batches, "
              f"{shipper.failures} failed attempts)")
        shipper.close()
        return 0
    except StoreError as e:
        print(str(e), file=sys.stderr)
        return 1
    finally:
        server.close()


def _relay(url: str, robot_id: str, store: str, cfg: FleetConfig) -> int:
    """The relay beside a running memory node, until SIGINT/SIGTERM: waits (backing off) for the server and
    for the memory's store to exist, then ships (Shipper.run). Exit 1 only when retrying cannot help (the
    robot id belongs to another store, the file is not a memory store)."""
    import os
    import signal
    import sys
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    wait, said = cfg.backoff_min_s, set()

    def pause(key: str, text: str) -> None:
        nonlocal wait
        if key not in said:                      # once per cause: the relay may wait a long time
            said.add(key)
            print(f"fleet relay: {text} (retrying)", flush=True)
        stop.wait(wait)
        wait = min(cfg.backoff_max_s, wait * 2.0)
    server: Optional[FleetServer] = None
    shipper: Optional[Shipper] = None
    try:
        while not stop.is_set() and shipper is None:
            if not os.path.isfile(store):
                pause("store", f"waiting for the memory store {store}")
                continue
            if server is None:
                try:
                    server = FleetServer(url, timeout_s=max(cfg.timeout_s, 1.0))
                except StoreError as e:
                    print(f"fleet relay: {e}", file=sys.stderr)
                    return 1
                except Exception as e:          # unreachable: the robot keeps its outbox meanwhile
                    pause("server", f"fleet server {redact_url(url)} unreachable ({type(e).__name__})")
                    continue
            try:
                shipper = Shipper(robot_id, store, server, batch=cfg.batch,
                                  backoff_s=(cfg.backoff_min_s, cfg.backoff_max_s))
            except StoreError as e:
                if "not a memory store" in str(e):      # the memory node creates its tables at configure
                    pause("tables", str(e))
                    continue
                print(f"fleet relay: {e}", file=sys.stderr)
                return 1
        if shipper is None:
            return 0
        print(f"fleet relay: shipping {store} as robot {robot_id!r} to {redact_url(url)}", flush=True)
        t = threading.Thread(target=shipper.run, args=(stop, cfg.idle_s), daemon=True)
        t.start()
        while t.is_alive() and not stop.is_set():
            stop.wait(0.5)
        stop.set()
        t.join(timeout=10)
        print(f"{robot_id}: shipped through observation {shipper.acked_through} ({shipper.batches} batches, "
              f"{shipper.failures} failed attempts{'; ' + shipper.last_error if shipper.last_error else ''})",
              flush=True)
        shipper.close()
        return 1 if "another store" in shipper.last_error else 0
    finally:
        if server is not None:
            server.close()


if __name__ == "__main__":
    import sys as _sys
    _sys.exit(main())
