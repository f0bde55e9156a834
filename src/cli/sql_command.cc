// `sluice sql`: SQL over the lake, interactive (with history) or from -e / -f / stdin.
#include <editline/readline.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "cli/cli.h"
#include "cli/output.h"

namespace sluice::cli {
namespace {

struct SqlOptions {
  std::vector<std::string> execute;
  std::string file;
  std::string format = "table";
  int64_t max_rows = 1000;
  bool echo = false;        // print each statement before its result
  bool keep_going = false;  // report an error and go on with the next statement
};

// Runs one statement and prints its result.
Status run_statement(LakeContext& lake, const std::string& stmt, OutputFormat format,
                     int64_t max_rows) {
  if (engine::is_relation_query(stmt)) {
    SLUICE_ASSIGN_OR_RETURN(auto sql, lake.session.prepare_query(stmt));
    // Errors are reported against the statement as written, not the wrapper below.
    SLUICE_RETURN_IF_ERROR(lake.session.session().check(sql));
    if (format != OutputFormat::kTable) {
      // Streamed by DuckDB with bounded memory. DuckDB opens its output path with O_TRUNC, so
      // it writes into a pipe that a thread copies to our stdout: a redirected file (`> out`,
      // `>> log`) keeps what earlier statements wrote.
      std::cout.flush();
      int fds[2];
      if (::pipe(fds) != 0) return io_error("cannot create a pipe for the result stream");
      std::thread copier([rd = fds[0]] {
        char buf[1 << 16];
        ssize_t n;
        while ((n = ::read(rd, buf, sizeof buf)) > 0) {
          for (ssize_t off = 0; off < n;) {
            ssize_t w = ::write(STDOUT_FILENO, buf + off, static_cast<size_t>(n - off));
            if (w <= 0) return;
            off += w;
          }
        }
      });
      Status st = lake.session.session().execute(
          fmt::format("COPY ({}) TO '/dev/fd/{}' (FORMAT {}{})", sql, fds[1],
                      format == OutputFormat::kCsv ? "csv" : "json",
                      format == OutputFormat::kCsv ? ", HEADER true" : ""));
      ::close(fds[1]);
      copier.join();
      ::close(fds[0]);
      return st;
    }
    SLUICE_ASSIGN_OR_RETURN(auto r, lake.session.session().query(fmt::format(
                                        "SELECT * FROM ({}) LIMIT {}", sql, max_rows + 1)));
    bool truncated = static_cast<int64_t>(r.rows.size()) > max_rows;
    if (truncated) r.rows.resize(static_cast<size_t>(max_rows));
    print_result(std::cout, r, format, truncated);
    return Status::ok();
  }
  SLUICE_ASSIGN_OR_RETURN(auto r, lake.session.run(stmt));
  if (r.has_rows) {
    print_result(std::cout, r.rows, format);
  } else {
    std::ostream& out = format == OutputFormat::kTable ? std::cout : std::cerr;
    out << r.tag;
    if (r.snapshot_id) out << fmt::format(" (snapshot {})", *r.snapshot_id);
    out << "\n";
  }
  return Status::ok();
}

Status run_script(LakeContext& lake, const std::string& script, OutputFormat format,
                  const SqlOptions& opts) {
  auto stmts = engine::split_statements(script);
  Status first_error;
  for (size_t i = 0; i < stmts.size(); ++i) {
    if (opts.echo) {
      auto b = stmts[i].find_first_not_of(" \t\n");
      std::cout << "> " << stmts[i].substr(b == std::string::npos ? 0 : b) << ";\n";
    }
    Status st = run_statement(lake, stmts[i], format, opts.max_rows);
    if (!st.is_ok() && opts.keep_going) {
      std::cout.flush();
      std::cerr << "error: " << st.message() << "\n";
      std::cerr.flush();
      if (first_error.is_ok()) first_error = st;
      continue;
    }
    if (!st.is_ok()) {
      if (stmts.size() == 1) return st;
      return st.with_context(fmt::format("statement {} of {}", i + 1, stmts.size()));
    }
  }
  return first_error;
}

void interactive(LakeContext& lake, OutputFormat format, const SqlOptions& opts) {
  std::string history;
  if (const char* home = std::getenv("HOME")) history = std::string(home) + "/.sluice_history";
  using_history();
  if (!history.empty()) read_history(history.c_str());
  std::cout << "sluice sql: statements end with ';'. \\dt lists tables, \\q quits.\n";
  std::string buffer;
  while (true) {
    char* line = readline(buffer.empty() ? "sluice> " : "   ...> ");
    if (line == nullptr) break;
    std::string text(line);
    std::free(line);
    if (buffer.empty() && (text == "\\q" || text == "quit" || text == "exit")) break;
    if (buffer.empty() && text == "\\dt") {
      // Lake tables of every namespace, like psql's \dt.
      std::vector<std::vector<std::optional<std::string>>> rows;
      auto nss = lake.catalog->list_namespaces();
      for (const auto& ns : nss.is_ok() ? *nss : std::vector<std::string>{}) {
        auto tables = lake.catalog->list_tables(ns);
        if (!tables.is_ok()) continue;
        for (const auto& t : *tables)
          rows.push_back({t.ns, t.name});
      }
      print_result(std::cout, make_result({"namespace", "table"}, std::move(rows)), format);
      continue;
    }
    if (text.find_first_not_of(" \t") == std::string::npos) continue;
    add_history(text.c_str());
    buffer += text + "\n";
    auto last = buffer.find_last_not_of(" \t\n");
    if (last == std::string::npos || buffer[last] != ';') continue;
    Status st = run_script(lake, buffer, format, opts);
    if (!st.is_ok()) std::cerr << "error: " << st.message() << "\n";
    buffer.clear();
  }
  if (!history.empty()) write_history(history.c_str());
}

}  // namespace

void add_sql_command(CLI::App& app, CliState& state) {
  auto opts = std::make_shared<SqlOptions>();
  auto* cmd = app.add_subcommand("sql", "Run SQL over the lake (interactive, -e, -f or stdin)");
  cmd->add_option("-e,--execute", opts->execute, "SQL to run (repeatable)");
  cmd->add_option("-f,--file", opts->file, "SQL script to run");
  cmd->add_option("--format", opts->format, "table, csv or json")->capture_default_str();
  cmd->add_option("--max-rows", opts->max_rows, "Rows shown in table format")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--echo", opts->echo, "Print each statement before its result");
  cmd->add_flag("--keep-going", opts->keep_going,
                "On an error, report it and run the next statement (exit code 1 at the end)");
  cmd->footer(
      "Lake tables are zone.table (raw, refined, curated, ...). Time travel: FROM t AT (VERSION "
      "=> <snapshot id>) or AT (TIMESTAMP => '2026-11-21 10:00:00').");
  cmd->callback([&state, opts] {
    auto format = parse_output_format(opts->format);
    if (!format.is_ok()) {
      state.exit_code = report(format.status());
      return;
    }
    with_lake(state, [&](LakeContext& lake) -> Status {
      std::string script;
      for (const auto& e : opts->execute)
        script += e + ";\n";
      if (!opts->file.empty()) {
        std::ifstream in(opts->file);
        if (!in) return not_found(fmt::format("cannot read SQL file '{}'", opts->file));
        std::stringstream b;
        b << in.rdbuf();
        script += b.str();
      }
      if (script.empty() && ::isatty(STDIN_FILENO)) {
        interactive(lake, *format, *opts);
        return Status::ok();
      }
      if (script.empty()) {
        std::stringstream b;
        b << std::cin.rdbuf();
        script = b.str();
      }
      Status st = run_script(lake, script, *format, *opts);
      std::cout.flush();
      return st;
    });
  });
}

}  // namespace sluice::cli
