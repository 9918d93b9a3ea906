#!/usr/bin/env bash
# The simulation demo, on a fresh clone too: makes sure setup is done, then lets the robot live a few
# simulated days and asks it questions over ROS 2. Extra arguments go to the demo (see --help), e.g.
#   bash scripts/demo.sh --days 2          bash scripts/demo.sh --fresh
set -eo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup.sh
exec .venv/bin/python -m memory_nodes.ros.demo "$@"
