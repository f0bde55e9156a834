#include "bus/client.h"

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <memory>

#include "common/log.h"

namespace sluice::bus {

namespace {

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const {
    if (rk) rd_kafka_destroy(rk);
  }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;

void log_cb(const rd_kafka_t*, int level, const char* fac, const char* buf) {
  // syslog levels: 0-3 error, 4 warning, 5-6 info, 7 debug.
  if (level <= 3) {
    log::error("librdkafka", {log::kv("facility", fac), log::kv("message", buf)});
  } else if (level == 4) {
    log::warn("librdkafka", {log::kv("facility", fac), log::kv("message", buf)});
  } else {
    log::debug("librdkafka", {log::kv("facility", fac), log::kv("message", buf)});
  }
}

Result<KafkaHandle> make_handle(rd_kafka_type_t type, const ClientOptions& o,
                                const std::map<std::string, std::string>& extra) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  std::map<std::string, std::string> settings = {{"bootstrap.servers", o.bootstrap},
                                                 {"client.id", "sluice"}};
  for (const auto& [k, v] : extra)
    settings[k] = v;
  for (const auto& [k, v] : settings) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return invalid_argument(fmt::format("librdkafka setting {}={}: {}", k, v, err));
    }
  }
  rd_kafka_conf_set_log_cb(conf, log_cb);
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof(err));
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return internal_error(fmt::format("librdkafka: {}", err));
  }
  return KafkaHandle(rk);
}

Status from_rdkafka(rd_kafka_resp_err_t e, std::string_view what, const ClientOptions& o) {
  if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::ok();
  if (e == RD_KAFKA_RESP_ERR__TRANSPORT || e == RD_KAFKA_RESP_ERR__TIMED_OUT ||
      e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
    return unavailable(fmt::format("{}: {} (is a broker running at {}? see bus.bootstrap)", what,
                                   rd_kafka_err2str(e), o.bootstrap));
  }
  if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || e == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
    return not_found(fmt::format("{}: {}", what, rd_kafka_err2str(e)));
  }
  return unavailable(fmt::format("{}: {}", what, rd_kafka_err2str(e)));
}

// Runs one admin operation and waits for its result event.
Result<rd_kafka_event_t*> admin_wait(rd_kafka_t* rk, rd_kafka_queue_t* q,
                                     rd_kafka_event_type_t type, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms + 2000);
  while (std::chrono::steady_clock::now() < deadline) {
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 200);
    if (!ev) continue;
    if (rd_kafka_event_type(ev) == type) return ev;
    rd_kafka_event_destroy(ev);
  }
  (void)rk;
  return timeout_error("the broker did not answer the admin request in time");
}

Status topic_result_status(const rd_kafka_topic_result_t* r, std::string_view action) {
  rd_kafka_resp_err_t e = rd_kafka_topic_result_error(r);
  if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::ok();
  const char* msg = rd_kafka_topic_result_error_string(r);
  std::string text = fmt::format("{} topic '{}': {}", action, rd_kafka_topic_result_name(r),
                                 msg ? msg : rd_kafka_err2str(e));
  if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) return already_exists(text);
  if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) return not_found(text);
  return invalid_argument(text);
}

}  // namespace

Status create_topic(const ClientOptions& o, const std::string& name, int32_t partitions,
                    int32_t replication, const std::map<std::string, std::string>& configs) {
  SLUICE_ASSIGN_OR_RETURN(auto rk, make_handle(RD_KAFKA_PRODUCER, o, {}));
  char err[512];
  rd_kafka_NewTopic_t* nt =
      rd_kafka_NewTopic_new(name.c_str(), partitions, replication, err, sizeof(err));
  if (!nt) return invalid_argument(fmt::format("topic '{}': {}", name, err));
  for (const auto& [k, v] : configs)
    rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk.get());
  rd_kafka_AdminOptions_t* opts =
      rd_kafka_AdminOptions_new(rk.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_request_timeout(opts, o.timeout_ms, err, sizeof(err));
  rd_kafka_CreateTopics(rk.get(), &nt, 1, opts, q);
  auto ev = admin_wait(rk.get(), q, RD_KAFKA_EVENT_CREATETOPICS_RESULT, o.timeout_ms);
  Status st = ev.status();
  if (ev.is_ok()) {
    st = from_rdkafka(rd_kafka_event_error(*ev), "creating topic", o);
    if (st.is_ok()) {
      size_t n = 0;
      const auto* res =
          rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(*ev), &n);
      for (size_t i = 0; i < n && st.is_ok(); ++i)
        st = topic_result_status(res[i], "creating");
    }
    rd_kafka_event_destroy(*ev);
  }
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_NewTopic_destroy(nt);
  rd_kafka_queue_destroy(q);
  return st;
}

Status delete_topic(const ClientOptions& o, const std::string& name) {
  SLUICE_ASSIGN_OR_RETURN(auto rk, make_handle(RD_KAFKA_PRODUCER, o, {}));
  rd_kafka_DeleteTopic_t* dt = rd_kafka_DeleteTopic_new(name.c_str());
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk.get());
  rd_kafka_DeleteTopics(rk.get(), &dt, 1, nullptr, q);
  auto ev = admin_wait(rk.get(), q, RD_KAFKA_EVENT_DELETETOPICS_RESULT, o.timeout_ms);
  Status st = ev.status();
  if (ev.is_ok()) {
    st = from_rdkafka(rd_kafka_event_error(*ev), "deleting topic", o);
    if (st.is_ok()) {
      size_t n = 0;
      const auto* res =
          rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(*ev), &n);
      for (size_t i = 0; i < n && st.is_ok(); ++i)
        st = topic_result_status(res[i], "deleting");
    }
    rd_kafka_event_destroy(*ev);
  }
  rd_kafka_DeleteTopic_destroy(dt);
  rd_kafka_queue_destroy(q);
  return st;
}

namespace {

Result<const rd_kafka_metadata_t*> fetch_metadata(rd_kafka_t* rk, const ClientOptions& o,
                                                  rd_kafka_topic_t* only) {
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t e = rd_kafka_metadata(rk, only ? 0 : 1, only, &md, o.timeout_ms);
  SLUICE_RETURN_IF_ERROR(from_rdkafka(e, "reading metadata", o));
  return md;
}

}  // namespace

Result<std::vector<std::string>> list_topics(const ClientOptions& o) {
  SLUICE_ASSIGN_OR_RETURN(auto rk, make_handle(RD_KAFKA_PRODUCER, o, {}));
  SLUICE_ASSIGN_OR_RETURN(auto md, fetch_metadata(rk.get(), o, nullptr));
  std::vector<std::string> out;
  for (int i = 0; i < md->topic_cnt; ++i)
    out.emplace_back(md->topics[i].topic);
  rd_kafka_metadata_destroy(md);
  std::sort(out.begin(), out.end());
  return out;
}

Result<TopicDescription> describe_topic(const ClientOptions& o, const std::string& name) {
  SLUICE_ASSIGN_OR_RETURN(auto rk, make_handle(RD_KAFKA_PRODUCER, o, {}));
  SLUICE_ASSIGN_OR_RETURN(auto md, fetch_metadata(rk.get(), o, nullptr));
  TopicDescription d;
  d.name = name;
  bool found = false;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (name != t.topic) continue;
    found = true;
    for (int p = 0; p < t.partition_cnt; ++p)
      d.partitions.push_back({t.partitions[p].id, t.partitions[p].leader, -1, -1});
  }
  rd_kafka_metadata_destroy(md);
  if (!found) return not_found(fmt::format("topic '{}' does not exist", name));
  std::sort(d.partitions.begin(), d.partitions.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  for (auto& p : d.partitions) {
    SLUICE_RETURN_IF_ERROR(
        from_rdkafka(rd_kafka_query_watermark_offsets(rk.get(), name.c_str(), p.id, &p.low, &p.high,
                                                      o.timeout_ms),
                     "reading offsets", o));
  }
  // Configs through DescribeConfigs.
  rd_kafka_ConfigResource_t* res =
      rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name.c_str());
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk.get());
  rd_kafka_DescribeConfigs(rk.get(), &res, 1, nullptr, q);
  auto ev = admin_wait(rk.get(), q, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT, o.timeout_ms);
  if (ev.is_ok()) {
    size_t n = 0;
    const auto* rs =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(*ev), &n);
    for (size_t i = 0; i < n; ++i) {
      size_t nc = 0;
      const auto* entries = rd_kafka_ConfigResource_configs(rs[i], &nc);
      for (size_t c = 0; c < nc; ++c) {
        const char* v = rd_kafka_ConfigEntry_value(entries[c]);
        d.configs[rd_kafka_ConfigEntry_name(entries[c])] = v ? v : "";
      }
    }
    rd_kafka_event_destroy(*ev);
  }
  rd_kafka_ConfigResource_destroy(res);
  rd_kafka_queue_destroy(q);
  return d;
}

namespace {

struct DeliveryState {
  int64_t delivered = 0;
  rd_kafka_resp_err_t first_error = RD_KAFKA_RESP_ERR_NO_ERROR;
};

void delivery_cb(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* s = static_cast<DeliveryState*>(opaque);
  if (m->err) {
    if (!s->first_error) s->first_error = m->err;
  } else {
    ++s->delivered;
  }
}

}  // namespace

Result<int64_t> produce_lines(const ClientOptions& o, const std::string& topic, std::istream& in,
                              const std::optional<char>& key_separator) {
  DeliveryState state;
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [k, v] :
       std::map<std::string, std::string>{{"bootstrap.servers", o.bootstrap},
                                          {"client.id", "sluice"},
                                          {"enable.idempotence", "true"},
                                          {"linger.ms", "5"},
                                          {"message.timeout.ms", std::to_string(o.timeout_ms)}}) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return invalid_argument(fmt::format("librdkafka setting {}: {}", k, err));
    }
  }
  rd_kafka_conf_set_log_cb(conf, log_cb);
  rd_kafka_conf_set_dr_msg_cb(conf, delivery_cb);
  rd_kafka_conf_set_opaque(conf, &state);
  rd_kafka_t* raw = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (!raw) {
    rd_kafka_conf_destroy(conf);
    return internal_error(fmt::format("librdkafka: {}", err));
  }
  KafkaHandle rk(raw);
  std::string line;
  int64_t sent = 0;
  while (std::getline(in, line)) {
    std::string_view value = line, key;
    bool has_key = false;
    if (key_separator) {
      auto pos = line.find(*key_separator);
      if (pos != std::string::npos) {
        key = std::string_view(line).substr(0, pos);
        value = std::string_view(line).substr(pos + 1);
        has_key = true;
      }
    }
    for (;;) {
      rd_kafka_resp_err_t e =
          rd_kafka_producev(rk.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
                            RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                            RD_KAFKA_V_KEY(has_key ? const_cast<char*>(key.data()) : nullptr,
                                           has_key ? key.size() : 0),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(rk.get(), 100);
        continue;
      }
      SLUICE_RETURN_IF_ERROR(from_rdkafka(e, "producing", o));
      break;
    }
    ++sent;
    rd_kafka_poll(rk.get(), 0);
  }
  rd_kafka_flush(rk.get(), o.timeout_ms + 1000);
  if (state.first_error) {
    return from_rdkafka(state.first_error, fmt::format("producing to '{}'", topic), o);
  }
  if (state.delivered != sent) {
    return timeout_error(fmt::format("{} of {} messages to '{}' were not acknowledged in time",
                                     sent - state.delivered, sent, topic));
  }
  return state.delivered;
}

Result<int64_t> consume(const ClientOptions& o, const ConsumeOptions& c,
                        const std::function<void(const ConsumedMessage&)>& on_message) {
  std::map<std::string, std::string> extra = {
      {"auto.offset.reset", c.from_beginning ? "earliest" : "latest"},
      {"enable.partition.eof", "false"}};
  std::string group = c.group.empty() ? "sluice-cli" : c.group;
  extra["group.id"] = group;
  extra["enable.auto.commit"] = c.group.empty() ? "false" : "true";
  SLUICE_ASSIGN_OR_RETURN(auto rk, make_handle(RD_KAFKA_CONSUMER, o, extra));
  rd_kafka_poll_set_consumer(rk.get());
  if (c.group.empty()) {
    // No group: assign every partition at the start (or end).
    SLUICE_ASSIGN_OR_RETURN(auto desc, describe_topic(o, c.topic));
    rd_kafka_topic_partition_list_t* parts =
        rd_kafka_topic_partition_list_new(static_cast<int>(desc.partitions.size()));
    for (const auto& p : desc.partitions) {
      rd_kafka_topic_partition_list_add(parts, c.topic.c_str(), p.id)->offset =
          c.from_beginning ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
    }
    rd_kafka_resp_err_t e = rd_kafka_assign(rk.get(), parts);
    rd_kafka_topic_partition_list_destroy(parts);
    SLUICE_RETURN_IF_ERROR(from_rdkafka(e, "assigning partitions", o));
  } else {
    rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, c.topic.c_str(), RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk.get(), topics);
    rd_kafka_topic_partition_list_destroy(topics);
    SLUICE_RETURN_IF_ERROR(from_rdkafka(e, "subscribing", o));
  }
  int64_t count = 0;
  auto last = std::chrono::steady_clock::now();
  Status st;
  while (c.max_messages < 0 || count < c.max_messages) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), 100);
    auto now = std::chrono::steady_clock::now();
    if (!m) {
      if (now - last > std::chrono::milliseconds(c.idle_timeout_ms)) break;
      continue;
    }
    if (m->err) {
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        st = from_rdkafka(m->err, fmt::format("consuming '{}'", c.topic), o);
        rd_kafka_message_destroy(m);
        break;
      }
      rd_kafka_message_destroy(m);
      continue;
    }
    last = now;
    ConsumedMessage msg;
    msg.topic = rd_kafka_topic_name(m->rkt);
    msg.partition = m->partition;
    msg.offset = m->offset;
    msg.timestamp = rd_kafka_message_timestamp(m, nullptr);
    if (m->key) msg.key = std::string(static_cast<const char*>(m->key), m->key_len);
    if (m->payload) msg.value = std::string(static_cast<const char*>(m->payload), m->len);
    rd_kafka_message_destroy(m);
    on_message(msg);
    ++count;
  }
  rd_kafka_consumer_close(rk.get());
  SLUICE_RETURN_IF_ERROR(st);
  return count;
}

Result<std::vector<LagRow>> group_lag(const ClientOptions& o, const std::string& group) {
  SLUICE_ASSIGN_OR_RETURN(
      auto rk,
      make_handle(RD_KAFKA_CONSUMER, o, {{"group.id", group}, {"enable.auto.commit", "false"}}));
  SLUICE_ASSIGN_OR_RETURN(auto md, fetch_metadata(rk.get(), o, nullptr));
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(16);
  for (int i = 0; i < md->topic_cnt; ++i)
    for (int p = 0; p < md->topics[i].partition_cnt; ++p)
      rd_kafka_topic_partition_list_add(parts, md->topics[i].topic, md->topics[i].partitions[p].id);
  rd_kafka_metadata_destroy(md);
  rd_kafka_resp_err_t e = rd_kafka_committed(rk.get(), parts, o.timeout_ms);
  std::vector<LagRow> rows;
  Status st = from_rdkafka(e, fmt::format("reading offsets of group '{}'", group), o);
  for (int i = 0; st.is_ok() && i < parts->cnt; ++i) {
    const auto& tp = parts->elems[i];
    if (tp.offset < 0) continue;
    LagRow row{tp.topic, tp.partition, tp.offset, -1, -1};
    int64_t low = 0;
    st = from_rdkafka(rd_kafka_query_watermark_offsets(rk.get(), tp.topic, tp.partition, &low,
                                                       &row.end, o.timeout_ms),
                      "reading offsets", o);
    row.lag = std::max<int64_t>(0, row.end - row.committed);
    rows.push_back(row);
  }
  rd_kafka_topic_partition_list_destroy(parts);
  rd_kafka_destroy_flags(rk.release(), RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  SLUICE_RETURN_IF_ERROR(st);
  if (rows.empty()) {
    return not_found(fmt::format("group '{}' has no committed offsets", group));
  }
  return rows;
}

}  // namespace sluice::bus
