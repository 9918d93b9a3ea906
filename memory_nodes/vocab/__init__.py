"""vocab core (no rclpy)."""
