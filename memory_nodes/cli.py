"""``memory-stack``: one command for the stack and its recordings.

    memory-stack [LAUNCH_FILE] [name:=value ...] [--print]      start the nodes of a launch file (pip runner)
    memory-stack import {tum,7scenes} SRC --out BAG_DIR ...     a dataset folder -> a rosbag2 bag (MCAP)
    memory-stack replay BAG_DIR [--lockstep | --rate R] ...     perception + memory over a bag -> a memory store
    memory-stack record [--out BAG_DIR] [--topics ...] ...      camera, tf and odom topics of a live run -> MCAP
    memory-stack ask "where is the mug?" [--budget M] ...       ask the running stack (the Ask service / action)

Each subcommand has its own ``--help``. Anything that is not a subcommand is a launch invocation, so
``memory-stack launch/memory_stack.launch.yaml namespace:=robot1`` keeps working. Subcommand modules are
imported only when chosen: ``import`` needs no ROS installation at all.
"""
from __future__ import annotations

import importlib
import sys
from typing import Dict, Optional, Sequence, Tuple

SUBCOMMANDS: Dict[str, Tuple[str, str]] = {
    "import": ("memory_nodes.bags.importers", "a dataset folder (TUM RGB-D, 7-Scenes) -> a rosbag2 bag"),
    "replay": ("memory_nodes.ros.replay", "perception + memory over a rosbag2 bag -> a memory store"),
    "record": ("memory_nodes.ros.record", "camera, tf and odom topics of a live run -> a rosbag2 MCAP bag"),
    "ask": ("memory_nodes.ros.ask_client", "ask the running stack a question"),
    "store": ("memory_nodes.memory.repository.tools", "check or recover a memory store"),
    "launch": ("memory_nodes.ros.launcher", "start the nodes of a launch file (the default subcommand)"),
}


def usage() -> str:
    lines = [__doc__.split("\n\n")[1].rstrip(), "", "subcommands:"]
    lines += [f"  {name:<8} {text}" for name, (_, text) in SUBCOMMANDS.items()]
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help"):
        print("usage: memory-stack <subcommand> ...\n\n" + usage())
        return 0
    name = args[0] if args and args[0] in SUBCOMMANDS else "launch"
    if args and args[0] == name:
        args = args[1:]
    module = importlib.import_module(SUBCOMMANDS[name][0])
    rc = module.main(args)
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
