"""Every node's ``main()``: the Humble/Jazzy idiom, written once.

    def main(args=None) -> None:
        run_node(MemoryNode, args, before_destroy=MemoryNode.close_memory)

rclpy.init; build the node; spin it on a single-threaded executor (or ``executor="multi"`` with
``num_threads``); Ctrl-C (KeyboardInterrupt) or an external shutdown (ExternalShutdownException) ends the
spin quietly; finally the executor is shut down (its threads joined: the process aborts if they outlive
rclpy.shutdown), ``before_destroy(node)`` runs, the node is destroyed and rclpy shut down with try_shutdown
(a no-op when a signal handler already did). An error in ``fatal`` (bad parameters, a foreign stored
world) is logged as FATAL and exits with status 1 instead of a traceback. ``with rclpy.init()``
exists only from Kilted on, so it is not used.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence, Tuple, Type

import rclpy
import rclpy.logging
from rclpy.executors import Executor, ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node

from memory_nodes.common.errors import MemoryStackError

EXECUTORS = ("single", "multi")


def make_executor(kind: str = "single", num_threads: Optional[int] = None) -> Executor:
    """``"single"``: SingleThreadedExecutor; ``"multi"``: MultiThreadedExecutor(num_threads)."""
    if kind == "single":
        return SingleThreadedExecutor()
    if kind == "multi":
        return MultiThreadedExecutor(num_threads=num_threads)
    raise ValueError(f"executor must be one of {EXECUTORS}, got {kind!r}")


def run_node(make_node: Callable[[], Node], args: Optional[Sequence[str]] = None, *, executor: str = "single",
             num_threads: Optional[int] = None, before_destroy: Optional[Callable[[Node], None]] = None,
             fatal: Tuple[Type[BaseException], ...] = (MemoryStackError,), name: str = "main",
             what: str = "the node") -> None:
    """Init, spin ``make_node()`` until Ctrl-C / shutdown, clean up (see the module docstring). ``name``
    names the logger of a FATAL line before the node exists; ``what`` the node in it."""
    rclpy.init(args=args)
    node: Optional[Node] = None
    ex: Optional[Executor] = None
    try:
        ex = make_executor(executor, num_threads)
        node = make_node()
        ex.add_node(node)
        ex.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except fatal as e:
        logger = node.get_logger() if node is not None else rclpy.logging.get_logger(name)
        logger.fatal(f"cannot start {what}: {e}" if node is None else f"{what} stopped: {e}")
        raise SystemExit(1) from None
    finally:
        if ex is not None:
            ex.shutdown()
        if node is not None:
            if before_destroy is not None:
                before_destroy(node)
            node.destroy_node()
        rclpy.try_shutdown()
