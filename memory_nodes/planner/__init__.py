"""planner core (no rclpy)."""
