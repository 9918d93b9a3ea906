"""Thin rclpy nodes and the one conversions module where messages meet core types."""
