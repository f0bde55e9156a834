#include "scheduler/store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "scheduler/schedule.h"

namespace sluice::scheduler {

Result<std::unique_ptr<OwnerLock>> OwnerLock::acquire(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  auto path = dir / "LOCK";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return io_error(fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    auto who = holder(dir);
    return conflict(
        fmt::format("scheduler state {} is owned by {}; stop it or use another "
                    "--data-dir",
                    dir.string(), who ? *who : std::string("another process")));
  }
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  std::string text = fmt::format("pid {} (started {})\n", ::getpid(),
                                 iso_utc(int64_t{ts.tv_sec} * 1000000 + ts.tv_nsec / 1000));
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) < 0) {
    ::close(fd);
    return io_error(fmt::format("cannot write {}", path.string()));
  }
  auto lock = std::unique_ptr<OwnerLock>(new OwnerLock());
  lock->fd_ = fd;
  return lock;
}

std::optional<std::string> OwnerLock::holder(const std::filesystem::path& dir) {
  auto path = dir / "LOCK";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  bool held = ::flock(fd, LOCK_SH | LOCK_NB) != 0;
  if (!held) ::flock(fd, LOCK_UN);
  ::close(fd);
  if (!held) return std::nullopt;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line.empty() ? std::string("another process") : line;
}

OwnerLock::~OwnerLock() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<Store>> Store::open(const std::filesystem::path& dir, bool read_only) {
  auto store = std::unique_ptr<Store>(new Store());
  rocksdb::Options opts;
  opts.create_if_missing = !read_only;
  opts.keep_log_file_num = 3;
  opts.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  rocksdb::DB* db = nullptr;
  auto path = (dir / "db").string();
  if (read_only && !std::filesystem::exists(dir / "db" / "CURRENT")) {
    return not_found(fmt::format("no scheduler state under {} yet", dir.string()));
  }
  rocksdb::Status s = read_only ? rocksdb::DB::OpenForReadOnly(opts, path, &db)
                                : rocksdb::DB::Open(opts, path, &db);
  if (!s.ok())
    return io_error(fmt::format("cannot open scheduler state {}: {}", path, s.ToString()));
  store->db_.reset(db);
  return store;
}

Store::~Store() = default;

Status Store::put(const std::string& key, const nlohmann::json& value, bool sync) {
  return put_many({{key, value}}, sync);
}

Status Store::put_many(const std::vector<std::pair<std::string, nlohmann::json>>& kvs, bool sync) {
  rocksdb::WriteBatch batch;
  for (const auto& [k, v] : kvs)
    batch.Put(k, v.dump());
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  auto s = db_->Write(wo, &batch);
  if (!s.ok()) return io_error("scheduler state write failed: " + s.ToString());
  return Status::ok();
}

Status Store::del(const std::string& key) {
  auto s = db_->Delete(rocksdb::WriteOptions(), key);
  if (!s.ok()) return io_error("scheduler state delete failed: " + s.ToString());
  return Status::ok();
}

Result<std::optional<nlohmann::json>> Store::get(const std::string& key) const {
  std::string v;
  auto s = db_->Get(rocksdb::ReadOptions(), key, &v);
  if (s.IsNotFound()) return std::optional<nlohmann::json>();
  if (!s.ok()) return io_error("scheduler state read failed: " + s.ToString());
  auto j = nlohmann::json::parse(v, nullptr, false);
  if (j.is_discarded()) return corruption(fmt::format("scheduler state key {} is not JSON", key));
  return std::optional<nlohmann::json>(std::move(j));
}

Result<std::vector<std::pair<std::string, nlohmann::json>>> Store::scan(
    const std::string& prefix) const {
  std::vector<std::pair<std::string, nlohmann::json>> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    auto j = nlohmann::json::parse(it->value().ToString(), nullptr, false);
    if (j.is_discarded())
      return corruption(fmt::format("scheduler state key {} is not JSON", it->key().ToString()));
    out.emplace_back(it->key().ToString(), std::move(j));
  }
  if (!it->status().ok())
    return io_error("scheduler state scan failed: " + it->status().ToString());
  return out;
}

}  // namespace sluice::scheduler
