# FindDuckDB: locates a DuckDB 1.4 C API install (duckdb.h + libduckdb.so).
#
# Search order:
#   1. DUCKDB_ROOT (CMake or environment variable): any DuckDB 1.4 install, with the header in
#      <root>/include or <root> and the library in <root>/lib or <root>.
#   2. The repo's npm-provisioned copy under scripts/duckdb/node_modules (scripts/setup.sh).
#   3. System paths.
#
# The library is verified at configure time: a probe program must link, run and report a 1.4.x
# version, so a wrong or broken libduckdb.so fails the configure step, not the first query.
#
# Defines the imported target DuckDB::duckdb and DuckDB_VERSION.

set(_duckdb_roots)
if(DEFINED DUCKDB_ROOT)
  list(APPEND _duckdb_roots "${DUCKDB_ROOT}")
elseif(DEFINED ENV{DUCKDB_ROOT})
  list(APPEND _duckdb_roots "$ENV{DUCKDB_ROOT}")
endif()
set(_duckdb_npm "${PROJECT_SOURCE_DIR}/scripts/duckdb/node_modules")

if(_duckdb_roots)
  # An explicit root wins and is the only place searched.
  find_path(DuckDB_INCLUDE_DIR duckdb.h HINTS ${_duckdb_roots} PATH_SUFFIXES include NO_DEFAULT_PATH)
  find_library(DuckDB_LIBRARY NAMES duckdb HINTS ${_duckdb_roots} PATH_SUFFIXES lib lib64
               NO_DEFAULT_PATH)
else()
  find_path(DuckDB_INCLUDE_DIR duckdb.h PATHS "${_duckdb_npm}/duckdb/src/duckdb/src/include")
  find_library(DuckDB_LIBRARY NAMES duckdb PATHS "${_duckdb_npm}/@duckdb/node-bindings-linux-x64")
endif()

if(DuckDB_INCLUDE_DIR AND DuckDB_LIBRARY AND NOT DuckDB_VERSION)
  set(_probe_dir "${CMAKE_BINARY_DIR}/duckdb_probe")
  file(WRITE "${_probe_dir}/probe.c" [=[
#include <stdio.h>
#include "duckdb.h"
int main(void) {
  duckdb_database db;
  duckdb_connection con;
  duckdb_result res;
  if (duckdb_open(NULL, &db) != DuckDBSuccess) return 2;
  if (duckdb_connect(db, &con) != DuckDBSuccess) return 3;
  if (duckdb_query(con, "SELECT 42", &res) != DuckDBSuccess) return 4;
  if (duckdb_value_int64(&res, 0, 0) != 42) return 5;
  duckdb_destroy_result(&res);
  duckdb_disconnect(&con);
  duckdb_close(&db);
  printf("%s", duckdb_library_version());
  return 0;
}
]=])
  get_filename_component(_duckdb_libdir "${DuckDB_LIBRARY}" DIRECTORY)
  try_run(_duckdb_run_rc _duckdb_compile_ok
    "${_probe_dir}/build" "${_probe_dir}/probe.c"
    CMAKE_FLAGS "-DINCLUDE_DIRECTORIES=${DuckDB_INCLUDE_DIR}"
    LINK_LIBRARIES "${DuckDB_LIBRARY}" "-Wl,-rpath,${_duckdb_libdir}"
    COMPILE_OUTPUT_VARIABLE _duckdb_compile_out
    RUN_OUTPUT_VARIABLE _duckdb_run_out)
  if(NOT _duckdb_compile_ok)
    message(FATAL_ERROR "DuckDB probe did not build against ${DuckDB_LIBRARY}:\n${_duckdb_compile_out}")
  endif()
  if(NOT _duckdb_run_rc EQUAL 0)
    message(FATAL_ERROR "DuckDB probe failed (exit ${_duckdb_run_rc}) with ${DuckDB_LIBRARY}: "
                        "the library is broken or does not match duckdb.h")
  endif()
  string(REGEX REPLACE "^v" "" _duckdb_ver "${_duckdb_run_out}")
  if(NOT _duckdb_ver MATCHES "^1\\.4\\.")
    message(FATAL_ERROR "DuckDB at ${DuckDB_LIBRARY} is version ${_duckdb_ver}; Sluice needs 1.4.x "
                        "(run scripts/setup.sh, or point DUCKDB_ROOT at a DuckDB 1.4 install)")
  endif()
  set(DuckDB_VERSION "${_duckdb_ver}" CACHE INTERNAL "DuckDB version found by the probe")
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(DuckDB
  REQUIRED_VARS DuckDB_LIBRARY DuckDB_INCLUDE_DIR
  FAIL_MESSAGE "DuckDB 1.4 not found: run scripts/setup.sh (npm provider) or set DUCKDB_ROOT"
  VERSION_VAR DuckDB_VERSION)

if(DuckDB_FOUND AND NOT TARGET DuckDB::duckdb)
  add_library(DuckDB::duckdb SHARED IMPORTED)
  set_target_properties(DuckDB::duckdb PROPERTIES
    IMPORTED_LOCATION "${DuckDB_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${DuckDB_INCLUDE_DIR}")
endif()
