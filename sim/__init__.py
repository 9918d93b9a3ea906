"""Household simulator: procedurally generated homes that change over days, seen by an RGB-D camera.
Pure core (no rclpy); the ROS 2 node lives in sim.ros."""
