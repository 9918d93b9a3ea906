"""A minimal lifecycle node for the lifecycle-manager test: records its transitions in a parameter-named file."""
from __future__ import annotations

import sys

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.lifecycle import Node as LifecycleNode
from rclpy.lifecycle import TransitionCallbackReturn


class Dummy(LifecycleNode):
    def __init__(self):
        super().__init__("dummy")
        self.declare_parameter("log_file", "")

    def _log(self, what):
        with open(self.get_parameter("log_file").value, "a") as f:
            f.write(what + "\n")

    def on_configure(self, state):
        self._log("configure")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state):
        self._log("activate")
        return super().on_activate(state)


def main():
    rclpy.init(args=sys.argv)
    node = Dummy()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
