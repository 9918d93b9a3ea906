"""ROS 2 package marker: the nodes live in the memory_nodes Python package (memory_nodes.ros, sim.ros)."""
