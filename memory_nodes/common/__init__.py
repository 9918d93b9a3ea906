"""Types, geometry, errors and config shared by every core subpackage (no ROS imports)."""
