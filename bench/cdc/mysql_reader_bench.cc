// MariaDB binlog reader throughput: change events per second decoded by the Sluice reader
// (open_mysql_reader, streaming from a saved position) against the anchor measured in the same
// run: `mariadb-binlog --read-from-remote-server -v` decoding the same binlog range to /dev/null
// (the server's own row decoder as a plain client). Starts its own MariaDB (scripts/mariadb.sh) on
// a free port under a temporary folder and removes it at the end.
//   bench_cdc_mysql_reader [TRANSACTIONS] [ROWS_PER_TRANSACTION]   (default 2000 x 100)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "cdc/mysql_reader.h"

namespace fs = std::filesystem;
using namespace sluice;

namespace {

std::string run(const std::string& cmd, int* code = nullptr) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0)
    out.append(buf.data(), n);
  int st = ::pclose(p);
  if (code) *code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

int free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  ::close(s);
  return port;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  int txns = argc > 1 ? std::atoi(argv[1]) : 2000;
  int rows = argc > 2 ? std::atoi(argv[2]) : 100;
  char tmpl[] = "/tmp/sluice-bench-cdcmy-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return 1;
  fs::path dir = tmpl;
  int port = free_port();
  std::string env = "SLUICE_MYSQL_PORT=" + std::to_string(port) +
                    " SLUICE_MYSQL_FAST=1 SLUICE_MYSQL_PASSWORD=bench ";
  std::string scripts = std::string(SLUICE_SOURCE_DIR) + "/scripts";
  int code = 0;
  std::string out = run(env + scripts + "/mariadb.sh start " + (dir / "db").string(), &code);
  auto cleanup = [&] {
    (void)run(env + scripts + "/mariadb.sh stop " + (dir / "db").string());
    fs::remove_all(dir);
  };
  if (code != 0) {
    std::fprintf(stderr, "mariadb.sh: %s\n", out.c_str());
    cleanup();
    return 1;
  }
  std::string client = "mariadb --no-defaults --socket=" + (dir / "db" / "mysqld.sock").string() +
                       " -uroot -N -B inventory";
  (void)run(client +
            " -e \"CREATE TABLE b (id INT AUTO_INCREMENT PRIMARY KEY, qty INT, "
            "price DECIMAL(10,2), name VARCHAR(40), updated_at DATETIME(6))\"");
  std::string start = run(client + " -e 'SHOW MASTER STATUS'");
  std::string file = start.substr(0, start.find('\t'));
  std::string pos = start.substr(start.find('\t') + 1);
  pos = pos.substr(0, pos.find('\t'));
  {
    std::ofstream load(dir / "load.sql");
    for (int i = 0; i < txns; ++i) {
      load << "INSERT INTO b (qty, price, name, updated_at) SELECT seq, seq / 7, "
              "CONCAT('item-', seq), NOW(6) FROM seq_1_to_"
           << rows << ";\n";
    }
  }
  (void)run(client + " < " + (dir / "load.sql").string());
  std::string end = run(client + " -e 'SHOW MASTER STATUS'");
  std::string end_pos = end.substr(end.find('\t') + 1);
  end_pos = end_pos.substr(0, end_pos.find('\t'));

  // Anchor: mariadb-binlog decoding the same rows (-v) from the server to /dev/null.
  std::string anchor_cmd =
      "mariadb-binlog --no-defaults --read-from-remote-server --host=127.0.0.1 --port=" +
      std::to_string(port) + " --user=sluice --password=bench --start-position=" + pos +
      " --stop-position=" + end_pos + " -v " + file + " > /dev/null";
  (void)run(anchor_cmd);  // warm
  auto t0 = std::chrono::steady_clock::now();
  (void)run(anchor_cmd, &code);
  double anchor_s = seconds_since(t0);

  ::setenv("SLUICE_MYSQL_PASSWORD", "bench", 1);
  sources::SourceConfig src;
  src.name = "bench";
  src.kind = sources::SourceKind::kMysql;
  src.host = "127.0.0.1";
  src.port = port;
  src.database = "inventory";
  src.schema = "inventory";
  src.password_env = "SLUICE_MYSQL_PASSWORD";
  sources::TableConfig t;
  t.name = "b";
  src.tables.push_back(t);
  cdc::MysqlReaderOptions opt;
  opt.state_dir = dir / "state";
  int64_t events = 0;
  t0 = std::chrono::steady_clock::now();
  auto reader = cdc::open_mysql_reader(src, cdc::Position{0, 0, file + ":" + pos}, opt);
  if (!reader.is_ok()) {
    std::fprintf(stderr, "%s\n", reader.status().to_string().c_str());
    cleanup();
    return 1;
  }
  int64_t expected = static_cast<int64_t>(txns) * rows;
  while (events < expected) {
    auto x = (*reader)->next(std::chrono::milliseconds(2000));
    if (!x.is_ok() || !*x) break;
    events += static_cast<int64_t>((*x)->events.size());
  }
  double reader_s = seconds_since(t0);
  reader->reset();
  cleanup();
  double eps = events / reader_s, anchor_eps = static_cast<double>(expected) / anchor_s;
  std::printf("rows=%lld transactions=%d\n", static_cast<long long>(events), txns);
  std::printf("sluice mysql reader      %10.0f events/s (%.3f s)\n", eps, reader_s);
  std::printf("anchor mariadb-binlog -v %10.0f rows/s   (%.3f s)\n", anchor_eps, anchor_s);
  std::printf("ratio %.2f\n", eps / anchor_eps);
  return events == expected ? 0 : 1;
}
