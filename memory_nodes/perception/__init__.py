"""Perception core (no rclpy): RGB-D frames -> map-frame object observations, keyframe views, places and
labelled rooms.

    from memory_nodes.perception import Perception, PerceptionConfig
    perception = Perception(PerceptionConfig.from_params(load_node_params(path, "perception")))
    perception.set_class_table(sim.class_table)              # oracle detector only
    out = perception.process(frame, map_T_camera, map_T_base)  # -> PerceptionOutput
"""
from .config import PerceptionConfig
from .detector import Detector, make_detector
from .pipeline import Perception

__all__ = ["Detector", "Perception", "PerceptionConfig", "make_detector"]
