"""Pictures of what the robot remembers (pure core: matplotlib with the Agg backend, no ROS)."""
