#!/usr/bin/env bash
# Container entry point (docker/jetson and docker/x86): ROS 2 Humble, then the built ros2_ws overlay, then the
# command (default: the robot profile, launch/robot.launch.yaml). Run from the project folder, where the
# relative paths of config/ (models/nanodet-coco.onnx, data/) resolve onto the mounted volumes.
set -e
# shellcheck disable=SC1091
source "/opt/ros/${ROS_DISTRO:-humble}/setup.bash"
# shellcheck disable=SC1091
source /opt/robot_memory/ros2_ws/install/setup.bash
cd /opt/robot_memory
if [ ! -f models/nanodet-coco.onnx ]; then
  echo "[robot-memory] WARNING: models/nanodet-coco.onnx is missing: mount the models/ that scripts/setup.sh" \
       "made (-v \$PWD/models:/opt/robot_memory/models) or build with --build-arg FETCH_DETECTOR=1" >&2
fi
exec "$@"
