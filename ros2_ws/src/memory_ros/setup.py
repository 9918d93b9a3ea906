"""memory_ros: console scripts for the nodes, plus the repo's launch/ and config/ in share/memory_ros.

The node code is the memory_nodes / sim Python packages (pip-installed from the repo root); each
console script here is a one-line entry point into them.
"""
from glob import glob

from setuptools import setup

package_name = "memory_ros"

setup(
    name=package_name,
    version="0.1.0",
    packages=[package_name],
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/launch", glob("launch/*.launch.*")),
        ("share/" + package_name + "/config", glob("config/*.yaml") + glob("config/*.json")),
        ("share/" + package_name + "/config/dds", glob("config/dds/*.xml")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="Robot Memory Maintainers",
    maintainer_email="maintainers@robot-memory.dev",
    description="ROS 2 nodes of the long-term robot memory stack",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "sim_node = sim.ros.sim_node:main",
            "perception_node = memory_nodes.ros.perception_node:main",
            "memory_node = memory_nodes.ros.memory_node:main",
            "planner_node = memory_nodes.ros.planner_node:main",
            "lifecycle_manager = memory_nodes.ros.lifecycle_manager:main",
        ],
    },
)
