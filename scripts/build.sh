#!/usr/bin/env bash
# Configures and builds Sluice into build/ (or $SLUICE_BUILD_DIR). Extra arguments go to CMake's
# --build step (e.g. `--target sluice`). Assumes scripts/setup.sh has run.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${SLUICE_BUILD_DIR:-build}"
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo ${SLUICE_CMAKE_ARGS:-}
fi
cmake --build "$dir" "$@"
