#include "bus/topic_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/log.h"

namespace sluice::bus {

namespace fs = std::filesystem;

namespace {

KafkaStatus config_error(std::string m) {
  return {KafkaError::kInvalidConfig, std::move(m)};
}

bool parse_int(const std::string& s, int64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::map<std::string, std::string> default_topic_configs(const LogConfig& d) {
  std::string policy =
      d.cleanup_compact ? (d.cleanup_delete ? "compact,delete" : "compact") : "delete";
  return {
      {"cleanup.policy", policy},
      {"retention.ms", std::to_string(d.retention_ms)},
      {"retention.bytes", std::to_string(d.retention_bytes)},
      {"segment.bytes", std::to_string(d.segment_bytes)},
      {"delete.retention.ms", std::to_string(d.delete_retention_ms)},
      {"max.message.bytes", std::to_string(d.max_message_bytes)},
      {"segment.index.bytes", "10485760"},
      {"index.interval.bytes", std::to_string(d.index_interval_bytes)},
      {"message.timestamp.type", "CreateTime"},
      {"compression.type", "producer"},
      {"min.insync.replicas", "1"},
  };
}

KafkaStatus TopicStore::validate_name(std::string_view name) {
  if (name.empty() || name == "." || name == "..") {
    return {KafkaError::kInvalidTopicException, fmt::format("invalid topic name '{}'", name)};
  }
  if (name.size() > 249) {
    return {KafkaError::kInvalidTopicException,
            fmt::format("topic name '{}' is longer than 249 characters", name)};
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) {
      return {KafkaError::kInvalidTopicException,
              fmt::format("topic name '{}' has '{}'; use ASCII letters, digits, '.', '_', '-'",
                          name, c)};
    }
  }
  return {};
}

KafkaStatus TopicStore::apply_configs(const std::map<std::string, std::string>& configs,
                                      LogConfig* out) {
  for (const auto& [k, v] : configs) {
    int64_t n = 0;
    auto need_int = [&](int64_t min) -> bool { return parse_int(v, &n) && n >= min; };
    if (k == "cleanup.policy") {
      if (v == "delete") {
        out->cleanup_delete = true;
        out->cleanup_compact = false;
      } else if (v == "compact") {
        out->cleanup_delete = false;
        out->cleanup_compact = true;
      } else if (v == "compact,delete" || v == "delete,compact") {
        out->cleanup_delete = out->cleanup_compact = true;
      } else {
        return config_error(
            fmt::format("cleanup.policy '{}' is not one of delete, compact, compact,delete", v));
      }
    } else if (k == "retention.ms") {
      if (!need_int(-1)) return config_error(fmt::format("retention.ms '{}' is not >= -1", v));
      out->retention_ms = n;
    } else if (k == "retention.bytes") {
      if (!need_int(-1)) return config_error(fmt::format("retention.bytes '{}' is not >= -1", v));
      out->retention_bytes = n;
    } else if (k == "segment.bytes") {
      if (!need_int(1024)) return config_error(fmt::format("segment.bytes '{}' is not >= 1024", v));
      out->segment_bytes = n;
    } else if (k == "delete.retention.ms") {
      if (!need_int(0)) return config_error(fmt::format("delete.retention.ms '{}' is not >= 0", v));
      out->delete_retention_ms = n;
    } else if (k == "max.message.bytes") {
      if (!need_int(0) || n > INT32_MAX) {
        return config_error(fmt::format("max.message.bytes '{}' is not a positive int32", v));
      }
      out->max_message_bytes = static_cast<int32_t>(n);
    } else if (k == "index.interval.bytes") {
      if (!need_int(1) || n > INT32_MAX) {
        return config_error(fmt::format("index.interval.bytes '{}' is not a positive int32", v));
      }
      out->index_interval_bytes = static_cast<int32_t>(n);
    } else if (k == "message.timestamp.type") {
      if (v != "CreateTime") {
        return config_error("message.timestamp.type: only CreateTime is supported");
      }
    } else if (k == "compression.type") {
      if (v != "producer") return config_error("compression.type: only 'producer' is supported");
    } else if (k == "min.insync.replicas" || k == "segment.index.bytes") {
      if (!need_int(1)) return config_error(fmt::format("{} '{}' is not a positive integer", k, v));
    } else {
      return config_error(fmt::format(
          "unknown topic config '{}'; supported: cleanup.policy, retention.ms, retention.bytes, "
          "segment.bytes, delete.retention.ms, max.message.bytes, index.interval.bytes",
          k));
    }
  }
  return {};
}

Result<std::unique_ptr<TopicStore>> TopicStore::open(const fs::path& root,
                                                     const LogConfig& defaults) {
  std::unique_ptr<TopicStore> store(new TopicStore(root, defaults));
  std::error_code ec;
  fs::create_directories(root / "topics", ec);
  if (ec) return io_error(fmt::format("creating {}: {}", (root / "topics").string(), ec.message()));
  for (const auto& entry : fs::directory_iterator(root / "topics")) {
    auto meta = entry.path() / "topic.json";
    if (!fs::exists(meta)) continue;
    nlohmann::json doc;
    try {
      std::ifstream in(meta);
      doc = nlohmann::json::parse(in);
    } catch (const std::exception& e) {
      return corruption(fmt::format("{}: {}", meta.string(), e.what()));
    }
    auto t = std::make_unique<Topic>();
    t->name = entry.path().filename().string();
    t->configs = doc.value("configs", std::map<std::string, std::string>{});
    t->log_config = defaults;
    if (auto st = apply_configs(t->configs, &t->log_config); !st.ok()) {
      return corruption(fmt::format("{}: {}", meta.string(), st.message));
    }
    SLUICE_RETURN_IF_ERROR(store->open_partitions(*t, doc.value("partitions", 1)));
    store->topics_.emplace(t->name, std::move(t));
  }
  return store;
}

Status TopicStore::open_partitions(Topic& t, int32_t count) {
  for (int32_t p = static_cast<int32_t>(t.partitions.size()); p < count; ++p) {
    SLUICE_ASSIGN_OR_RETURN(
        auto log, PartitionLog::open(root_ / "topics" / t.name / std::to_string(p), t.log_config));
    t.partitions.push_back(std::move(log));
  }
  return Status::ok();
}

Status TopicStore::save(const Topic& t) {
  nlohmann::json doc = {{"partitions", t.partitions.size()}, {"configs", t.configs}};
  auto dir = root_ / "topics" / t.name;
  auto tmp = dir / "topic.json.tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << doc.dump(2) << "\n";
    if (!out) return io_error(fmt::format("writing {}", tmp.string()));
  }
  int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    (void)::fsync(fd);
    ::close(fd);
  }
  std::error_code ec;
  fs::rename(tmp, dir / "topic.json", ec);
  if (ec) return io_error(fmt::format("renaming {}: {}", tmp.string(), ec.message()));
  return Status::ok();
}

Topic* TopicStore::find(std::string_view name) {
  auto it = topics_.find(name);
  return it == topics_.end() ? nullptr : it->second.get();
}

std::vector<Topic*> TopicStore::all() {
  std::vector<Topic*> out;
  for (auto& [_, t] : topics_)
    out.push_back(t.get());
  return out;
}

KafkaStatus TopicStore::create(const std::string& name, int32_t partitions,
                               const std::map<std::string, std::string>& configs,
                               bool validate_only) {
  if (auto st = validate_name(name); !st.ok()) return st;
  if (find(name)) {
    return {KafkaError::kTopicAlreadyExists, fmt::format("topic '{}' already exists", name)};
  }
  if (partitions < 1 || partitions > 100000) {
    return {KafkaError::kInvalidPartitions,
            fmt::format("topic '{}': partition count {} is not in [1, 100000]", name, partitions)};
  }
  auto t = std::make_unique<Topic>();
  t->name = name;
  t->configs = configs;
  t->log_config = defaults_;
  if (auto st = apply_configs(configs, &t->log_config); !st.ok()) return st;
  if (validate_only) return {};
  std::error_code ec;
  fs::create_directories(root_ / "topics" / name, ec);
  Status st = ec ? io_error(ec.message()) : open_partitions(*t, partitions);
  if (st.is_ok()) st = save(*t);
  if (!st.is_ok()) return {KafkaError::kKafkaStorageError, st.message()};
  log::info("created topic", {log::kv("topic", name), log::kv("partitions", partitions)});
  topics_.emplace(name, std::move(t));
  return {};
}

KafkaStatus TopicStore::remove(const std::string& name) {
  auto it = topics_.find(name);
  if (it == topics_.end()) {
    return {KafkaError::kUnknownTopicOrPartition, fmt::format("topic '{}' does not exist", name)};
  }
  topics_.erase(it);  // closes the partition files
  std::error_code ec;
  fs::remove_all(root_ / "topics" / name, ec);
  if (ec) return {KafkaError::kKafkaStorageError, ec.message()};
  log::info("deleted topic", {log::kv("topic", name)});
  return {};
}

KafkaStatus TopicStore::add_partitions(const std::string& name, int32_t new_total,
                                       bool validate_only) {
  Topic* t = find(name);
  if (!t) {
    return {KafkaError::kUnknownTopicOrPartition, fmt::format("topic '{}' does not exist", name)};
  }
  auto current = static_cast<int32_t>(t->partitions.size());
  if (new_total <= current || new_total > 100000) {
    return {KafkaError::kInvalidPartitions,
            fmt::format("topic '{}' has {} partitions; the new count {} must be larger", name,
                        current, new_total)};
  }
  if (validate_only) return {};
  Status st = open_partitions(*t, new_total);
  if (st.is_ok()) st = save(*t);
  if (!st.is_ok()) return {KafkaError::kKafkaStorageError, st.message()};
  log::info("added partitions", {log::kv("topic", name), log::kv("partitions", new_total)});
  return {};
}

}  // namespace sluice::bus
