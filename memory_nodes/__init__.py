"""Long-term, place-centric scene-graph memory for ROS 2 robots.

Pure core subpackages (common, vocab, perception, memory, planner) never import rclpy or generated
messages; the thin ROS 2 nodes live in memory_nodes.ros.
"""
__version__ = "0.1.0"
