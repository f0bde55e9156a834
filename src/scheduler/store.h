// The scheduler's state store: RocksDB under <data_dir>/scheduler/db with JSON values, and the
// single-owner lock (<data_dir>/scheduler/LOCK, an exclusive flock naming its owner).
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace rocksdb {
class DB;
}

namespace sluice::scheduler {

// An exclusive flock on `<dir>/LOCK`; the file says who holds it.
class OwnerLock {
 public:
  // FailedPrecondition-like Conflict when another process holds it:
  // "scheduler state <dir> is owned by pid N (started ...); stop it or use another --data-dir".
  static Result<std::unique_ptr<OwnerLock>> acquire(const std::filesystem::path& dir);
  // Who holds the lock, or nullopt when nobody does.
  static std::optional<std::string> holder(const std::filesystem::path& dir);
  ~OwnerLock();

 private:
  int fd_ = -1;
};

class Store {
 public:
  // Opens (creating) the database under `dir`/db; read_only does not need the lock.
  static Result<std::unique_ptr<Store>> open(const std::filesystem::path& dir, bool read_only);
  ~Store();

  Status put(const std::string& key, const nlohmann::json& value, bool sync = false);
  Status put_many(const std::vector<std::pair<std::string, nlohmann::json>>& kvs, bool sync);
  Status del(const std::string& key);
  Result<std::optional<nlohmann::json>> get(const std::string& key) const;
  // Every key with `prefix`, in key order.
  Result<std::vector<std::pair<std::string, nlohmann::json>>> scan(const std::string& prefix) const;

 private:
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace sluice::scheduler
