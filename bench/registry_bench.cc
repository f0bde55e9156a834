// Schema registry throughput over keep-alive HTTP: lookups by id per second and registrations
// per second, next to the anchor measured in the same run: the same number of requests to a
// trivial handler on the same http server stack (the stack's own limit), and, for registrations,
// the same number of fdatasync'ed appends of the same size (the disk's limit).
//
//   bench_registry [requests] [connections]     (defaults: 20000, 4)
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>
#include <vector>

#include "common/log.h"
#include "http/client.h"
#include "http/server.h"
#include "registry/registry.h"

namespace {

namespace fs = std::filesystem;
using namespace sluice;
using Clock = std::chrono::steady_clock;

// Runs `per_conn(connection index, client)` on `conns` threads, each with its own keep-alive
// connection; returns requests per second.
double run(uint16_t port, int conns, int total,
           const std::function<bool(int, int, http::Client&)>& one) {
  std::atomic<int> failures{0};
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  int per = total / conns;
  for (int c = 0; c < conns; ++c) {
    threads.emplace_back([&, c] {
      http::Client client("127.0.0.1", port);
      for (int i = 0; i < per; ++i)
        if (!one(c, c * per + i, client)) ++failures;
    });
  }
  for (auto& t : threads)
    t.join();
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (failures > 0) fmt::print(stderr, "  {} requests failed\n", failures.load());
  return per * conns / s;
}

double fsync_appends(const fs::path& dir, int n, size_t bytes) {
  auto file = dir / "anchor.log";
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, 0644);
  std::string line(bytes, 'x');
  line.back() = '\n';
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    if (::write(fd, line.data(), line.size()) < 0 || ::fdatasync(fd) != 0) break;
  }
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  ::close(fd);
  return n / s;
}

std::string schema_for(int i) {
  return nlohmann::json{{"schema", fmt::format(R"({{"type":"record","name":"r{}","fields":[)"
                                               R"({{"name":"id","type":"long"}},)"
                                               R"({{"name":"amount","type":"double"}}]}})",
                                               i)}}
      .dump();
}

}  // namespace

int main(int argc, char** argv) {
  int requests = argc > 1 ? std::atoi(argv[1]) : 20000;
  int conns = argc > 2 ? std::atoi(argv[2]) : 4;
  int registrations = std::max(requests / 20, conns);
  log::init(log::Level::kWarn, log::Format::kText);  // no access log lines for either server
  fs::path dir = fs::temp_directory_path() / fmt::format("sluice_bench_registry_{}", ::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);

  // Anchor: a trivial handler on the same stack, same worker count.
  http::Router router;
  std::string small = R"({"schema":"{\"type\":\"string\"}"})";
  router.get("/static", [&](http::Request&) { return http::Response::json(200, small); });
  router.post("/static", [&](http::Request&) { return http::Response::json(200, {{"id", 1}}); });
  auto anchor =
      http::Server::start({.host = "127.0.0.1", .port = 0, .workers = 4}, std::move(router));
  if (!anchor.is_ok()) return fmt::print(stderr, "{}\n", anchor.status().to_string()), 1;

  registry::RegistryOptions ro;
  ro.dir = dir / "registry";
  ro.port = 0;
  auto reg = registry::RegistryServer::start(ro);
  if (!reg.is_ok()) return fmt::print(stderr, "{}\n", reg.status().to_string()), 1;
  uint16_t rport = (*reg)->port();
  uint16_t aport = (*anchor)->port();

  fmt::print("bench_registry: {} lookups, {} registrations, {} keep-alive connections\n", requests,
             registrations, conns);
  fmt::print("{:<34} {:>12} {:>22} {:>8}\n", "case", "req/s", "anchor req/s", "ratio");

  // Registrations (each a new schema and subject; the store fdatasyncs each one). The disk
  // anchor runs right before, on the same file system, so both see the same disk load.
  double disk = fsync_appends(dir, registrations, 160);
  double reg_rate = run(rport, conns, registrations, [&](int, int i, http::Client& c) {
    auto r = c.post(fmt::format("/subjects/s{}/versions", i), schema_for(i),
                    "application/vnd.schemaregistry.v1+json");
    return r.is_ok() && r->status == 200;
  });
  double anchor_post = run(aport, conns, registrations, [&](int, int i, http::Client& c) {
    auto r = c.post("/static", schema_for(i));
    return r.is_ok() && r->status == 200;
  });
  fmt::print("{:<34} {:>12.0f} {:>22} {:>8.2f}\n", "register (new schema, fsync)", reg_rate,
             fmt::format("{:.0f} (stack)", anchor_post), reg_rate / anchor_post);
  fmt::print("{:<34} {:>12} {:>22} {:>8.2f}\n", "", "", fmt::format("{:.0f} (fdatasync)", disk),
             reg_rate / disk);

  // Lookups by id over the registered schemas.
  for (int c : {1, conns}) {
    double lookups = run(rport, c, requests, [&](int, int i, http::Client& cl) {
      auto r = cl.get(fmt::format("/schemas/ids/{}", 1 + i % registrations));
      return r.is_ok() && r->status == 200;
    });
    double anchor_get = run(aport, c, requests, [&](int, int, http::Client& cl) {
      auto r = cl.get("/static");
      return r.is_ok() && r->status == 200;
    });
    fmt::print("{:<34} {:>12.0f} {:>22} {:>8.2f}\n",
               fmt::format("GET /schemas/ids/{{id}}, {} conn", c), lookups,
               fmt::format("{:.0f} (stack)", anchor_get), lookups / anchor_get);
  }
  // Idempotent re-registration: parse + canonicalize + lookup, no write.
  double rereg = run(rport, conns, requests / 4, [&](int, int i, http::Client& c) {
    int k = i % registrations;
    auto r = c.post(fmt::format("/subjects/s{}/versions", k), schema_for(k),
                    "application/vnd.schemaregistry.v1+json");
    return r.is_ok() && r->status == 200;
  });
  double anchor_rereg = run(aport, conns, requests / 4, [&](int, int i, http::Client& c) {
    auto r = c.post("/static", schema_for(i));
    return r.is_ok() && r->status == 200;
  });
  fmt::print("{:<34} {:>12.0f} {:>22} {:>8.2f}\n", "re-register (same schema)", rereg,
             fmt::format("{:.0f} (stack)", anchor_rereg), rereg / anchor_rereg);

  (*reg)->stop();
  (*anchor)->stop();
  fs::remove_all(dir);
  return 0;
}
