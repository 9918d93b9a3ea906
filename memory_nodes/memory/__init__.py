"""memory core (no rclpy)."""
