"""ROS 2 side of the simulator: the sim node and its message conversions (the only rclpy code in sim/)."""
