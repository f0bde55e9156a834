#!/usr/bin/env bash
# The whole test suite: set-up, build, format check, the unit tests under AddressSanitizer +
# UndefinedBehaviorSanitizer, then every test (ctest). Exits non-zero on any failure; the last
# lines are ctest's summary of the full suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/format.sh --check

jobs=$(nproc)
# SLUICE_DEBUG_INFO=OFF (set by .ci/run: a fresh clone every run) builds without debug info,
# which compiles and links much faster; it applies when a build folder is first configured.
nodebug=""
if [ "${SLUICE_DEBUG_INFO:-ON}" = "OFF" ]; then nodebug="-DSLUICE_DEBUG_INFO=OFF"; fi

echo "== sanitizer build (ASan + UBSan), unit tests"
SLUICE_BUILD_DIR=build-asan SLUICE_CMAKE_ARGS="-DSLUICE_SANITIZE=ON -DSLUICE_BUILD_BENCH=OFF $nodebug" \
  scripts/build.sh --target unit_tests
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan -L unit --output-on-failure -j "$jobs"

echo "== release build, full suite"
SLUICE_CMAKE_ARGS="$nodebug" scripts/build.sh
ctest --test-dir build --output-on-failure -j "$jobs"
