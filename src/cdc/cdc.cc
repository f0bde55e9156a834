// CdcStream: one source's stream on a thread, with retries for transient faults. See cdc.h.
#include "cdc/cdc.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <condition_variable>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "cdc/pg_reader.h"
#include "cdc/pipeline.h"
#include "common/data_dir.h"
#include "common/log.h"
#include "engine/configured_lake.h"
#include "engine/engine.h"
#include "engine/lake_session.h"
#include "lake/lake.h"

#if __has_include("cdc/mysql_reader.h")
#include "cdc/mysql_reader.h"
#define SLUICE_CDC_HAS_MYSQL 1
#endif

namespace sluice::cdc {

std::string status_to_json(const StreamStatus& s) {
  nlohmann::ordered_json j = {{"source", s.source},
                              {"state", s.state},
                              {"position", s.position},
                              {"transactions", s.transactions},
                              {"events", s.events},
                              {"events_per_second", s.events_per_second},
                              {"lake_lag_ms", s.lake_lag_ms},
                              {"bus_lag_ms", s.bus_lag_ms},
                              {"retained_wal_bytes", s.retained_wal_bytes},
                              {"retained_wal_alert", s.retained_wal_alert},
                              {"updated_ms", s.updated_ms},
                              {"pid", s.pid},
                              {"backfill", s.backfill},
                              {"error", s.error}};
  return j.dump(2);
}

Result<StreamStatus> status_from_json(std::string_view text) {
  try {
    auto j = nlohmann::json::parse(text);
    StreamStatus s;
    s.source = j.value("source", "");
    s.state = j.value("state", "");
    s.position = j.value("position", "");
    s.transactions = j.value("transactions", int64_t{0});
    s.events = j.value("events", int64_t{0});
    s.events_per_second = j.value("events_per_second", 0.0);
    s.lake_lag_ms = j.value("lake_lag_ms", int64_t{-1});
    s.bus_lag_ms = j.value("bus_lag_ms", int64_t{-1});
    s.retained_wal_bytes = j.value("retained_wal_bytes", int64_t{-1});
    s.retained_wal_alert = j.value("retained_wal_alert", false);
    s.updated_ms = j.value("updated_ms", int64_t{0});
    s.pid = j.value("pid", 0);
    s.backfill = j.value("backfill", "");
    s.error = j.value("error", "");
    return s;
  } catch (const std::exception& e) {
    return corruption(std::string("bad CDC status file: ") + e.what());
  }
}

std::filesystem::path stream_dir(const common::Config& config, const std::string& source) {
  return std::filesystem::path(config.get_string("platform.data_dir")) / "cdc" / source;
}

Result<std::unique_ptr<ChangeReader>> open_reader(const sources::SourceConfig& source,
                                                  const Position& resume) {
  if (source.kind == sources::SourceKind::kPostgres) return open_pg_reader(source, resume);
#ifdef SLUICE_CDC_HAS_MYSQL
  return open_mysql_reader(source, resume);
#else
  return unimplemented(
      fmt::format("source {}: change data capture from MariaDB/MySQL is not built into this sluice",
                  source.name));
#endif
}

Result<std::optional<int64_t>> retained_bytes(const sources::SourceConfig& source,
                                              const std::string& resume) {
  if (source.kind == sources::SourceKind::kPostgres) return pg_retained_wal_bytes(source);
#ifdef SLUICE_CDC_HAS_MYSQL
  if (resume.empty()) return std::optional<int64_t>();
  SLUICE_ASSIGN_OR_RETURN(int64_t behind, mysql_binlog_behind_bytes(source, resume));
  return std::optional<int64_t>(behind);
#else
  (void)resume;
  return std::optional<int64_t>();
#endif
}

Status reset_source_state(const sources::SourceConfig& source) {
  if (source.kind == sources::SourceKind::kPostgres) return pg_drop_slot(source);
#ifdef SLUICE_CDC_HAS_MYSQL
  return mysql_reset_state(source);
#else
  return Status::ok();
#endif
}

struct CdcStream::Impl {
  common::Config config;
  sources::SourceConfig source;
  std::filesystem::path dir;
  std::atomic<bool> stop{false};
  mutable std::mutex mu;
  std::condition_variable cv;
  StreamStatus status;
  Status result;
  std::thread thread;
  int pid_fd = -1;  // <dir>/pid, flock-ed while the stream runs (one stream per source)

  void publish(const StreamStatus& s) {
    {
      std::lock_guard<std::mutex> l(mu);
      int64_t wal = status.retained_wal_bytes;
      bool alert = status.retained_wal_alert;
      status = s;
      status.retained_wal_bytes = wal;
      status.retained_wal_alert = alert;
      status.pid = static_cast<int>(::getpid());
    }
    write_status();
  }
  void write_status() {
    std::string text;
    {
      std::lock_guard<std::mutex> l(mu);
      text = status_to_json(status);
    }
    std::filesystem::path tmp = dir / "status.json.tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << text << '\n';
    }
    std::error_code ec;
    std::filesystem::rename(tmp, dir / "status.json", ec);
  }
  void set_state(const std::string& state, const std::string& error) {
    {
      std::lock_guard<std::mutex> l(mu);
      status.state = state;
      status.error = error;
      status.updated_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    }
    write_status();
  }

  Status run_once(engine::LakeSession& lake, Pipeline& pipeline) {
    SLUICE_ASSIGN_OR_RETURN(auto resume, pipeline.prepare());
    SLUICE_ASSIGN_OR_RETURN(auto reader, open_reader(source, resume));
    auto last_wal = std::chrono::steady_clock::time_point{};
    return pipeline.run(*reader, stop, [&](const StreamStatus& s) {
      publish(s);
      auto now = std::chrono::steady_clock::now();
      if (now - last_wal > std::chrono::seconds(10)) {
        last_wal = now;
        auto wal = retained_bytes(source, s.position);
        if (wal.is_ok() && *wal) {
          std::lock_guard<std::mutex> l(mu);
          status.retained_wal_bytes = **wal;
          status.retained_wal_alert = **wal > source.cdc.max_retained_wal_mb * (1 << 20);
          if (status.retained_wal_alert) {
            log::warn("cdc retained WAL above its limit",
                      {log::kv("source", source.name), log::kv("bytes", **wal),
                       log::kv("limit_mb", source.cdc.max_retained_wal_mb)});
          }
        }
      }
      (void)lake;
    });
  }

  void main() {
    Status st = Status::ok();
    int backoff_ms = 1000;
    while (!stop.load()) {
      auto lake = open_lake();
      if (!lake.is_ok()) {
        st = lake.status();
        break;
      }
      PipelineOptions po;
      po.topic_prefix = config.get_string("cdc.topic_prefix");
      po.commit_interval_ms = config.get_int("cdc.commit_interval_ms");
      po.bootstrap = config.get_bool("cdc.publish") ? config.get_string("bus.bootstrap") : "";
      if (po.bootstrap.empty()) {
        // No bus: the format does not matter.
      } else if (auto format = parse_event_format(config.get_string("cdc.format"));
                 !format.is_ok()) {
        st = format.status();
        break;
      } else if (*format == EventFormat::kAvro) {
        auto url = registry_url_from(config.get_string("cdc.registry_url"),
                                     config.get_string("registry.listen"));
        if (!url.is_ok()) {
          st = url.status();
          break;
        }
        po.format = *format;
        po.registry_url = *url;
      }
      po.state_dir = dir;
      Pipeline pipeline(source, po, &(*lake)->session);
      st = run_once((*lake)->session, pipeline);
      if (st.is_ok()) break;
      // Transient faults (an unreachable server, a broken connection, a busy bus) are retried
      // with backoff; anything else stops the stream with its error.
      if (st.code() != StatusCode::kUnavailable && st.code() != StatusCode::kConflict &&
          st.code() != StatusCode::kTimeout) {
        break;
      }
      log::warn("cdc stream retrying",
                {log::kv("source", source.name), log::kv("error", st.message()),
                 log::kv("backoff_ms", backoff_ms)});
      set_state("retrying", st.message());
      std::unique_lock<std::mutex> l(mu);
      cv.wait_for(l, std::chrono::milliseconds(backoff_ms), [&] { return stop.load(); });
      backoff_ms = std::min(backoff_ms * 2, 30000);
    }
    if (!st.is_ok()) {
      log::error("cdc stream failed",
                 {log::kv("source", source.name), log::kv("error", st.message())});
      set_state("failed", st.message());
    } else {
      set_state("stopped", "");
    }
    std::lock_guard<std::mutex> l(mu);
    result = st;
  }

  struct Lake {
    std::shared_ptr<lake::Catalog> catalog;
    std::shared_ptr<engine::Database> db;
    engine::LakeSession session;
  };
  Result<std::unique_ptr<Lake>> open_lake() {
    SLUICE_ASSIGN_OR_RETURN(auto lake, engine::open_configured_lake(config));
    return std::make_unique<Lake>(
        Lake{std::move(lake.catalog), std::move(lake.db), std::move(lake.session)});
  }
};

CdcStream::CdcStream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

CdcStream::~CdcStream() {
  stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  if (impl_->pid_fd >= 0) ::close(impl_->pid_fd);  // releases the lock
}

Result<std::unique_ptr<CdcStream>> CdcStream::start(const common::Config& config,
                                                    const sources::SourceConfig& source) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->source = source;
  impl->dir = stream_dir(config, source.name);
  // Reader state (the MariaDB reader's schema history) lives with the stream, under the data dir.
  impl->source.cdc.options.try_emplace("state_dir", impl->dir.string());
  std::error_code ec;
  std::filesystem::create_directories(impl->dir, ec);
  if (ec) return io_error(fmt::format("cannot create {}: {}", impl->dir.string(), ec.message()));
  // One stream per source, whichever process runs it (`sluice cdc start` or `sluice up`).
  auto pid_file = impl->dir / "pid";
  impl->pid_fd = ::open(pid_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (impl->pid_fd < 0) return io_error("cannot open " + pid_file.string());
  if (::flock(impl->pid_fd, LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {0};
    ssize_t n = ::read(impl->pid_fd, buf, sizeof buf - 1);
    ::close(impl->pid_fd);
    impl->pid_fd = -1;
    return already_exists(fmt::format(
        "the CDC stream of source {} is already running (pid {}); stop it with `sluice cdc stop "
        "{}`",
        source.name, n > 0 ? std::atoi(buf) : 0, source.name));
  }
  std::string pid_text = std::to_string(::getpid()) + "\n";
  if (::ftruncate(impl->pid_fd, 0) != 0 ||
      ::pwrite(impl->pid_fd, pid_text.data(), pid_text.size(), 0) < 0) {
    ::close(impl->pid_fd);
    impl->pid_fd = -1;
    return io_error("cannot write " + pid_file.string());
  }
  impl->status.source = source.name;
  impl->status.pid = static_cast<int>(::getpid());
  impl->write_status();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->main(); });
  return std::unique_ptr<CdcStream>(new CdcStream(std::move(impl)));
}

void CdcStream::stop() {
  impl_->stop.store(true);
  impl_->cv.notify_all();
}

Status CdcStream::wait() {
  if (impl_->thread.joinable()) impl_->thread.join();
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->result;
}

StreamStatus CdcStream::status() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->status;
}

}  // namespace sluice::cdc
