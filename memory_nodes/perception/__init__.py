"""perception core (no rclpy)."""
