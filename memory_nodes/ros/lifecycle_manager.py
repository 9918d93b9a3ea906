"""Lifecycle manager: configures and activates the stack's lifecycle nodes at start-up (Nav2's pattern).

The same node runs under `ros2 launch` and under the pip runner, so lifecycle nodes come up identically on
a real ROS 2 install (Humble or later) and on a pip install. Services ~/startup and ~/shutdown
(std_srvs/Trigger) repeat the sequence on demand.

Start-up is timed on the steady clock, never on ROS time: under use_sim_time ROS time stands still until
someone publishes /clock, and a sim-time autostart timer would leave the nodes unconfigured without a word.
"""
from __future__ import annotations

from typing import List

from lifecycle_msgs.msg import State, Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from std_srvs.srv import Trigger

from . import compat
from .diagnostics import ERROR, WARN, Diagnostics, Status
from .runner import run_node

_STATE_LABELS = {State.PRIMARY_STATE_UNKNOWN: "unknown", State.PRIMARY_STATE_UNCONFIGURED: "unconfigured",
                 State.PRIMARY_STATE_INACTIVE: "inactive", State.PRIMARY_STATE_ACTIVE: "active",
                 State.PRIMARY_STATE_FINALIZED: "finalized"}


class LifecycleManagerNode(Node):
    """Brings the nodes named in ``node_names`` to ACTIVE, in order."""

    def __init__(self, **kwargs) -> None:
        super().__init__("lifecycle_manager", **kwargs)
        self.declare_parameter("node_names", ["memory"], compat.parameter_descriptor(
            description="lifecycle nodes to manage, in start-up order (names relative to this namespace)"))
        self.declare_parameter("autostart", True, compat.parameter_descriptor(
            description="configure and activate the nodes at start-up"))
        self.declare_parameter("service_wait_s", 30.0, compat.parameter_descriptor(
            description="seconds to wait for a node's lifecycle services before giving up"))
        self.declare_parameter("transition_timeout_s", 30.0, compat.parameter_descriptor(
            description="seconds to wait for one transition to complete"))
        self._node_names: List[str] = list(self.get_parameter("node_names").value)
        self._service_wait_s = float(self.get_parameter("service_wait_s").value)
        self._transition_timeout_s = float(self.get_parameter("transition_timeout_s").value)
        self._clients_group = ReentrantCallbackGroup()
        self._change = {n: self.create_client(ChangeState, f"{n}/change_state", callback_group=self._clients_group)
                        for n in self._node_names}
        self._get = {n: self.create_client(GetState, f"{n}/get_state", callback_group=self._clients_group)
                     for n in self._node_names}
        services_group = MutuallyExclusiveCallbackGroup()
        self.create_service(Trigger, "~/startup", self._on_startup, callback_group=services_group)
        self.create_service(Trigger, "~/shutdown", self._on_shutdown, callback_group=services_group)
        self.all_active = False
        self._states = {n: "not contacted yet" for n in self._node_names}   # last known, from the transitions
        self._phase = "waiting"            # waiting | starting | active | failed | shut down
        self._failure = ""
        # its own group: start-up blocks the services group while it waits for the managed nodes
        self.diagnostics = Diagnostics(self, callback_group=MutuallyExclusiveCallbackGroup())
        self.diagnostics.add("managed nodes", self._diagnose)
        if self.get_parameter("autostart").value:
            self._autostart_timer = self.create_timer(0.1, self._autostart, callback_group=services_group,
                                                      clock=Clock(clock_type=ClockType.STEADY_TIME))

    # -- transitions -------------------------------------------------------------------------------------
    def _state_of(self, name: str) -> int:
        client = self._get[name]
        if not client.wait_for_service(timeout_sec=self._service_wait_s):
            raise RuntimeError(f"{name}: lifecycle services not available after {self._service_wait_s:.0f} s")
        fut = client.call_async(GetState.Request())
        if not self._wait(fut):
            raise RuntimeError(f"{name}: get_state timed out")
        state = int(fut.result().current_state.id)
        self._states[name] = _STATE_LABELS.get(state, str(state))
        return state

    def _transition(self, name: str, transition_id: int, label: str) -> None:
        fut = self._change[name].call_async(ChangeState.Request(transition=Transition(id=transition_id)))
        if not self._wait(fut):
            raise RuntimeError(f"{name}: {label} timed out after {self._transition_timeout_s:.0f} s")
        if not fut.result().success:
            raise RuntimeError(f"{name}: {label} failed (see that node's log)")
        self._states[name] = {"configure": "inactive", "activate": "active", "deactivate": "inactive",
                              "cleanup": "unconfigured"}.get(label, self._states[name])
        self.get_logger().info(f"{name}: {label} done")

    def _wait(self, fut) -> bool:
        # Called from a callback of a MultiThreadedExecutor: the reply is served by another thread.
        import threading
        done = threading.Event()
        fut.add_done_callback(lambda _f: done.set())
        return done.wait(self._transition_timeout_s) and fut.done()

    def startup(self) -> bool:
        self._phase, self._failure = "starting", ""
        try:
            for name in self._node_names:
                state = self._state_of(name)
                if state == State.PRIMARY_STATE_UNCONFIGURED:
                    self._transition(name, Transition.TRANSITION_CONFIGURE, "configure")
                    state = State.PRIMARY_STATE_INACTIVE
                if state == State.PRIMARY_STATE_INACTIVE:
                    self._transition(name, Transition.TRANSITION_ACTIVATE, "activate")
            self.all_active = True
            self._phase = "active"
            self.get_logger().info(f"managed nodes active: {', '.join(self._node_names)}")
            return True
        except RuntimeError as e:
            self._phase, self._failure = "failed", str(e)
            self.get_logger().error(f"start-up failed: {e}")
            return False

    def shutdown(self) -> bool:
        ok = True
        for name in reversed(self._node_names):
            try:
                state = self._state_of(name)
                if state == State.PRIMARY_STATE_ACTIVE:
                    self._transition(name, Transition.TRANSITION_DEACTIVATE, "deactivate")
                    state = State.PRIMARY_STATE_INACTIVE
                if state == State.PRIMARY_STATE_INACTIVE:
                    self._transition(name, Transition.TRANSITION_CLEANUP, "cleanup")
            except RuntimeError as e:
                self.get_logger().error(f"shutdown of {name} failed: {e}")
                ok = False
        self.all_active = False
        self._phase = "shut down"
        return ok

    def _diagnose(self) -> Status:
        """Cached states only (what the transitions last saw): never a service call from the updater."""
        s = Status({"all active": self.all_active, "autostart": bool(self.get_parameter("autostart").value),
                    "phase": self._phase, **self._states}, ok_message="managed nodes active")
        if self._phase == "failed":
            s.add(ERROR, f"start-up failed: {self._failure}")
        elif self._phase != "active":
            s.add(WARN, f"managed nodes not active ({self._phase})")
        return s

    # -- callbacks -----------------------------------------------------------------------------------------
    def _autostart(self) -> None:
        self._autostart_timer.cancel()
        self.startup()

    def _on_startup(self, _req, resp):
        resp.success = self.startup()
        resp.message = "active" if resp.success else "start-up failed (see log)"
        return resp

    def _on_shutdown(self, _req, resp):
        resp.success = self.shutdown()
        resp.message = "cleaned up" if resp.success else "shutdown incomplete (see log)"
        return resp


def main(args=None) -> None:
    # three threads: a transition's callback waits on the service reply another thread delivers, and the
    # diagnostics report meanwhile
    run_node(LifecycleManagerNode, args, executor="multi", num_threads=3, name="lifecycle_manager",
             what="the lifecycle manager")


if __name__ == "__main__":
    main()
