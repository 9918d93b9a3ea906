"""Conversions between ROS 2 messages and core types (basic.py: time, poses, images, camera info;
one sibling module per area for its own messages)."""
