"""Every node's ``main()``: the Humble/Jazzy idiom, written once.

    def main(args=None) -> None:
        run_node(MemoryNode, args, before_destroy=MemoryNode.close_memory)

compat.session (rclpy.init with SIGINT + SIGTERM handlers, try_shutdown at the end); build the node; spin
it on a single-threaded executor (or ``executor="multi"`` with ``num_threads``); Ctrl-C (KeyboardInterrupt)
or an external shutdown (ExternalShutdownException) ends the spin quietly (compat.shutdown_exceptions);
finally the executor is shut down (its threads joined: the process aborts if they outlive rclpy.shutdown),
``before_destroy(node)`` runs, the node is destroyed and rclpy shut down with try_shutdown (a no-op when a
signal handler already did). An error in ``fatal`` (bad parameters, a foreign stored world) is logged as
FATAL and exits with status 1 instead of a traceback. ``with rclpy.init()`` exists only from Kilted on;
compat.session is the same block on Humble too.

A node never outlives what started it: on Linux the process asks for SIGTERM when its parent dies
(prctl PR_SET_PDEATHSIG; ``ros2 launch`` killed by SIGTERM or SIGKILL leaves no orphans) and exits at once
if the parent is already gone. SIGTERM ends a node as Ctrl-C does: rclpy's handlers (SignalHandlerOptions.ALL,
asked for explicitly; Humble has them too) shut the context down, the spin ends, ``before_destroy`` runs.

Under use_sim_time with no /clock publisher for CLOCK_WAIT_S (steady time), the node logs one ERROR saying
so and how to fix it (its ROS time would stand still: no sim-time timer fires).
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from typing import Callable, Optional, Sequence, Tuple, Type

import rclpy
import rclpy.logging
from rclpy.clock import Clock, ClockType
from rclpy.executors import Executor, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node

from memory_nodes.common.errors import MemoryStackError

from . import compat
from . import params as _params

EXECUTORS = ("single", "multi")
CLOCK_WAIT_S = 5.0                  # steady s: use_sim_time and no /clock publisher this long -> one ERROR
_PR_SET_PDEATHSIG = 1               # <linux/prctl.h>


def die_with_parent(sig: int = signal.SIGTERM) -> bool:
    """Ask Linux for ``sig`` when the parent process dies (prctl PR_SET_PDEATHSIG); exit at once if it
    already has. False where that is not available (not Linux, no libc). It fires when the parent *thread*
    that started this process ends: ros2 launch and the pip runner start nodes from their main thread."""
    if not sys.platform.startswith("linux"):
        return False
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent:      # the parent died before the request took effect: no signal will come
        raise SystemExit(0)
    return True


def watch_clock(node: Node, wait_s: float = CLOCK_WAIT_S):
    """Under use_sim_time: one ERROR if no /clock publisher appears within ``wait_s`` steady seconds. Returns
    the (steady) timer, or None when the node runs on wall time."""
    try:
        sim_time = bool(node.get_parameter("use_sim_time").value)
    except Exception:  # noqa: BLE001 - a node without the parameter runs on wall time
        return None
    if not sim_time:
        return None
    deadline = time.monotonic() + wait_s

    def check() -> None:
        if node.count_publishers("/clock") > 0:
            timer.cancel()
        elif time.monotonic() >= deadline:
            timer.cancel()
            node.get_logger().error(
                f"use_sim_time is true but nothing publishes /clock after {wait_s:.0f} s: this node's ROS time "
                "stands still (timers on it never fire, stamps are 0). On a robot or a live camera run on wall "
                "time (with_sim:=false, or use_sim_time:=false); with the simulator use with_sim:=true; when "
                "replaying a bag, start the player with --clock")

    timer = node.create_timer(0.25, check, clock=Clock(clock_type=ClockType.STEADY_TIME))
    return timer


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
    die_with_parent()
    _params.remember_args(sys.argv if args is None else args)
    node: Optional[Node] = None
    ex: Optional[Executor] = None
    with compat.session(args, signals="all"):      # SIGINT and SIGTERM; try_shutdown however it ends
        try:
            ex = make_executor(executor, num_threads)
            node = make_node()
            watch_clock(node)
            ex.add_node(node)
            ex.spin()
        except compat.shutdown_exceptions():
            pass
        except fatal as e:
            logger = node.get_logger() if node is not None else rclpy.logging.get_logger(name)
            logger.fatal(f"cannot start {what}: {e}" if node is None else f"{what} stopped: {e}")
            raise SystemExit(1) from None
        except Exception as e:
            if not compat.shutdown_race(e):   # Ctrl-C while spin built its wait set: a normal stop
                raise
        finally:
            with _cleanup_uninterrupted(node, name):
                _cleanup_step(node, name, "shutting the executor down", ex.shutdown if ex is not None else None)
                if node is not None:
                    if before_destroy is not None:
                        _cleanup_step(node, name, "saving before exit", lambda: before_destroy(node))
                    _cleanup_step(node, name, "destroying the node", node.destroy_node)


@contextlib.contextmanager
def _cleanup_uninterrupted(node: Optional[Node], name: str):
    """While a node saves and shuts down, a further SIGINT/SIGTERM (a second Ctrl-C, ros2 launch's SIGTERM
    after its SIGINT, one delivered just as the spin ended) is logged once instead of raising
    KeyboardInterrupt half-way through a commit: the store and the map are written whole. SIGKILL still
    ends it at once. The previous handlers come back afterwards (rclpy's try_shutdown runs after this)."""
    said: list = []

    def later(signum, _frame) -> None:
        if not said:
            said.append(signum)
            logger = node.get_logger() if node is not None else rclpy.logging.get_logger(name)
            logger.warning(f"signal {signum} while saving and shutting down: finishing that first "
                           "(SIGKILL ends the process at once, and loses what is not saved yet)")

    saved = {}
    try:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                saved[sig] = signal.signal(sig, later)
    except KeyboardInterrupt:      # the signal that ended the spin, delivered this late: already handled
        pass
    try:
        yield
    finally:
        for sig, handler in saved.items():
            if handler is not None:         # None: set outside Python; rclpy's try_shutdown restores its own
                signal.signal(sig, handler)


def _cleanup_step(node: Optional[Node], name: str, what: str, step: Optional[Callable[[], object]]) -> None:
    """One step of the shutdown; an error in it is logged and the next step still runs (the store's commit
    must not be skipped because the executor failed to shut down)."""
    if step is None:
        return
    try:
        step()
    except KeyboardInterrupt:
        pass
    except Exception as e:  # noqa: BLE001 - logged; the remaining steps run
        logger = node.get_logger() if node is not None else rclpy.logging.get_logger(name)
        logger.error(f"error while {what}: {type(e).__name__}: {e}")
