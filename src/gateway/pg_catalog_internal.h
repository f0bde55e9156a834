// The PostgreSQL catalog Sluice shows to clients: views and macros in the DuckDB schema
// `sluice_pg`, created in every gateway session, that present DuckDB's catalog and the lake's
// tables the way psql, JDBC, SQLAlchemy and Grafana query them. rewrite_pg_syntax() points
// `pg_catalog.X` at them.
#pragma once

#include <string>
#include <vector>

namespace sluice::gateway::detail {

// Creates the schema, type table, relations and functions (run once per session).
std::string catalog_setup_sql(const std::string& server_version_text);
// (Re)defines the session-dependent macros: user, database, search path, backend pid.
std::string session_macros_sql(const std::string& user, const std::string& database,
                               const std::vector<std::string>& search_path, int pid);

}  // namespace sluice::gateway::detail
