// The REST surface: Confluent Schema Registry API v1 routes over SchemaStore.
#include <fmt/format.h>

#include "common/log.h"
#include "registry/registry.h"
#include "registry/schema_store_internal.h"

namespace sluice::registry {

namespace {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

constexpr std::string_view kContentType = "application/vnd.schemaregistry.v1+json";

http::Response ok(const ojson& body) {
  http::Response r;
  r.status = 200;
  r.content_type = std::string(kContentType);
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

http::Response fail(const Status& st) {
  auto e = to_api_error(st);
  if (e.http_status >= 500) {
    log::error("registry request failed",
               {log::kv("error_code", e.error_code), log::kv("message", e.message)});
  }
  return error_response(e.http_status, e.error_code, e.message);
}

// The body of a register / lookup / compatibility request.
Result<SchemaInput> schema_input(const http::Request& req) {
  auto doc = req.json();
  if (!doc.is_ok()) return registry_error(kInvalidSchema, doc.status().message());
  const json& j = *doc;
  if (!j.is_object() || !j.contains("schema") || !j["schema"].is_string()) {
    return registry_error(kInvalidSchema,
                          "the request body needs a \"schema\" string, e.g. "
                          "{\"schema\": \"{\\\"type\\\": \\\"string\\\"}\"}");
  }
  SchemaInput in;
  in.schema = j["schema"].get<std::string>();
  if (j.contains("schemaType") && j["schemaType"].is_string())
    in.type = j["schemaType"].get<std::string>();
  if (j.contains("references") && j["references"].is_array()) in.references = j["references"];
  return in;
}

ojson version_json(const VersionView& v) {
  ojson o;
  o["subject"] = v.subject;
  o["version"] = v.version;
  o["id"] = v.schema.id;
  if (v.schema.type != "AVRO") o["schemaType"] = v.schema.type;
  o["schema"] = v.schema.schema;
  return o;
}

Result<int> parse_id(const std::string& text) {
  int64_t id = 0;
  bool good = !text.empty() && text.size() <= 10;
  for (char c : text) {
    good = good && std::isdigit(static_cast<unsigned char>(c));
    if (good) id = id * 10 + (c - '0');
  }
  if (!good || id < 1 || id > INT32_MAX) {
    return registry_error(kSchemaNotFound, fmt::format("Schema {} not found", text));
  }
  return static_cast<int>(id);
}

Result<CompatLevel> level_from_body(const http::Request& req) {
  auto doc = req.json();
  if (!doc.is_ok()) return registry_error(kInvalidCompatibilityLevel, doc.status().message());
  std::string given;
  if (doc->is_object() && doc->contains("compatibility") && (*doc)["compatibility"].is_string())
    given = (*doc)["compatibility"].get<std::string>();
  auto level = parse_level(given);
  if (!level) {
    return registry_error(kInvalidCompatibilityLevel,
                          fmt::format("Invalid compatibility level '{}'. Valid values are none, "
                                      "backward, forward, full, backward_transitive, "
                                      "forward_transitive, and full_transitive",
                                      given));
  }
  return *level;
}

}  // namespace

http::Response error_response(int http_status, int error_code, std::string_view message) {
  http::Response r;
  r.status = http_status;
  r.content_type = std::string(kContentType);
  r.body = json{{"error_code", error_code}, {"message", message}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
  return r;
}

void add_routes(http::Router& r, std::shared_ptr<SchemaStore> store) {
  SchemaStore* s = store.get();
  // Keep the store alive as long as the routes: a no-op handler owns it.
  r.get("/", [store](http::Request&) { return ok(ojson::object()); });

  r.get("/subjects", [s](http::Request& q) { return ok(s->subjects(q.query_flag("deleted"))); });
  r.get("/subjects/{subject}/versions", [s](http::Request& q) {
    auto v = s->versions(q.param("subject"), q.query_flag("deleted"));
    return v.is_ok() ? ok(*v) : fail(v.status());
  });
  r.post("/subjects/{subject}/versions", [s](http::Request& q) {
    auto in = schema_input(q);
    if (!in.is_ok()) return fail(in.status());
    auto id = s->register_schema(q.param("subject"), *in);
    if (!id.is_ok()) return fail(id.status());
    return ok(ojson{{"id", *id}});
  });
  r.get("/subjects/{subject}/versions/{version}", [s](http::Request& q) {
    auto v = s->get_version(q.param("subject"), q.param("version"), q.query_flag("deleted"));
    return v.is_ok() ? ok(version_json(*v)) : fail(v.status());
  });
  r.get("/subjects/{subject}/versions/{version}/schema", [s](http::Request& q) {
    auto v = s->get_version(q.param("subject"), q.param("version"), q.query_flag("deleted"));
    if (!v.is_ok()) return fail(v.status());
    http::Response res = ok(nullptr);
    res.body = v->schema.schema;  // the schema itself, unescaped
    return res;
  });
  r.get("/subjects/{subject}/versions/{version}/referencedby", [s](http::Request& q) {
    auto v = s->get_version(q.param("subject"), q.param("version"), false);
    return v.is_ok() ? ok(ojson::array()) : fail(v.status());  // references are not supported
  });
  r.post("/subjects/{subject}", [s](http::Request& q) {
    auto in = schema_input(q);
    if (!in.is_ok()) return fail(in.status());
    auto v = s->lookup(q.param("subject"), *in, q.query_flag("deleted"));
    return v.is_ok() ? ok(version_json(*v)) : fail(v.status());
  });
  r.del("/subjects/{subject}", [s](http::Request& q) {
    auto v = s->delete_subject(q.param("subject"), q.query_flag("permanent"));
    return v.is_ok() ? ok(*v) : fail(v.status());
  });
  r.del("/subjects/{subject}/versions/{version}", [s](http::Request& q) {
    auto v = s->delete_version(q.param("subject"), q.param("version"), q.query_flag("permanent"));
    return v.is_ok() ? ok(*v) : fail(v.status());
  });

  r.get("/schemas/ids/{id}", [s](http::Request& q) {
    auto id = parse_id(q.param("id"));
    if (!id.is_ok()) return fail(id.status());
    auto v = s->schema_by_id(*id);
    if (!v.is_ok()) return fail(v.status());
    ojson o;
    if (v->type != "AVRO") o["schemaType"] = v->type;
    o["schema"] = v->schema;
    return ok(o);
  });
  r.get("/schemas/ids/{id}/schema", [s](http::Request& q) {
    auto id = parse_id(q.param("id"));
    if (!id.is_ok()) return fail(id.status());
    auto v = s->schema_by_id(*id);
    if (!v.is_ok()) return fail(v.status());
    http::Response res = ok(nullptr);
    res.body = v->schema;
    return res;
  });
  r.get("/schemas/ids/{id}/versions", [s](http::Request& q) {
    auto id = parse_id(q.param("id"));
    if (!id.is_ok()) return fail(id.status());
    auto v = s->subject_versions_of(*id, q.query_flag("deleted"));
    if (!v.is_ok()) return fail(v.status());
    ojson out = ojson::array();
    for (const auto& [subject, version] : *v)
      out.push_back(ojson{{"subject", subject}, {"version", version}});
    return ok(out);
  });
  r.get("/schemas/ids/{id}/subjects", [s](http::Request& q) {
    auto id = parse_id(q.param("id"));
    if (!id.is_ok()) return fail(id.status());
    auto v = s->subject_versions_of(*id, q.query_flag("deleted"));
    if (!v.is_ok()) return fail(v.status());
    std::vector<std::string> subjects;
    for (const auto& [subject, version] : *v)
      if (subjects.empty() || subjects.back() != subject) subjects.push_back(subject);
    return ok(subjects);
  });
  r.get("/schemas/types", [](http::Request&) { return ok(ojson::array({"AVRO", "JSON"})); });

  auto compat = [s](http::Request& q, const std::string& version) {
    auto in = schema_input(q);
    if (!in.is_ok()) return fail(in.status());
    auto report = s->test_compatibility(q.param("subject"), version, *in);
    if (!report.is_ok()) return fail(report.status());
    ojson o{{"is_compatible", report->compatible}};
    if (q.query_flag("verbose")) o["messages"] = report->messages;
    return ok(o);
  };
  r.post("/compatibility/subjects/{subject}/versions/{version}",
         [compat](http::Request& q) { return compat(q, q.param("version")); });
  r.post("/compatibility/subjects/{subject}/versions",
         [compat](http::Request& q) { return compat(q, ""); });

  r.get("/config", [s](http::Request&) {
    return ok(ojson{{"compatibilityLevel", level_name(s->global_level())}});
  });
  r.put("/config", [s](http::Request& q) {
    auto level = level_from_body(q);
    if (!level.is_ok()) return fail(level.status());
    Status st = s->set_global_level(*level);
    return st.is_ok() ? ok(ojson{{"compatibility", level_name(*level)}}) : fail(st);
  });
  r.del("/config", [s](http::Request&) {
    CompatLevel prev = s->global_level();
    Status st = s->set_global_level(CompatLevel::kBackward);
    return st.is_ok() ? ok(ojson{{"compatibilityLevel", level_name(prev)}}) : fail(st);
  });
  r.get("/config/{subject}", [s](http::Request& q) {
    auto level = s->subject_level(q.param("subject"), q.query_flag("defaultToGlobal"));
    return level.is_ok() ? ok(ojson{{"compatibilityLevel", level_name(*level)}})
                         : fail(level.status());
  });
  r.put("/config/{subject}", [s](http::Request& q) {
    auto level = level_from_body(q);
    if (!level.is_ok()) return fail(level.status());
    Status st = s->set_subject_level(q.param("subject"), *level);
    return st.is_ok() ? ok(ojson{{"compatibility", level_name(*level)}}) : fail(st);
  });
  r.del("/config/{subject}", [s](http::Request& q) {
    auto prev = s->delete_subject_level(q.param("subject"));
    return prev.is_ok() ? ok(ojson{{"compatibilityLevel", level_name(*prev)}})
                        : fail(prev.status());
  });

  // One writable node: the mode is always READWRITE (no IMPORT / READONLY).
  r.get("/mode", [](http::Request&) { return ok(ojson{{"mode", "READWRITE"}}); });
  r.get("/mode/{subject}", [](http::Request&) { return ok(ojson{{"mode", "READWRITE"}}); });
  r.put("/mode", [](http::Request& q) {
    auto doc = q.json();
    if (doc.is_ok() && doc->is_object() && doc->value("mode", "") == "READWRITE")
      return ok(ojson{{"mode", "READWRITE"}});
    return error_response(422, kInvalidMode,
                          "Invalid mode. Sluice's registry supports only READWRITE");
  });
}

Result<RegistryOptions> RegistryOptions::from_config(const common::Config& config,
                                                     const std::filesystem::path& data_dir) {
  RegistryOptions o;
  o.dir = data_dir / "registry";
  std::string listen = config.get_string("registry.listen");
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return invalid_argument(
        fmt::format("registry.listen '{}' is not HOST:PORT (e.g. 127.0.0.1:8081)", listen));
  }
  o.host = listen.substr(0, colon);
  if (o.host.size() > 2 && o.host.front() == '[' && o.host.back() == ']')
    o.host = o.host.substr(1, o.host.size() - 2);
  std::string port = listen.substr(colon + 1);
  int p = 0;
  bool good = !port.empty() && port.size() <= 5;
  for (char c : port) {
    good = good && std::isdigit(static_cast<unsigned char>(c));
    if (good) p = p * 10 + (c - '0');
  }
  if (!good || p > 65535) {
    return invalid_argument(fmt::format("registry.listen '{}' has an invalid port", listen));
  }
  o.port = static_cast<uint16_t>(p);
  return o;
}

Result<std::unique_ptr<RegistryServer>> RegistryServer::start(const RegistryOptions& options) {
  SLUICE_ASSIGN_OR_RETURN(auto store, SchemaStore::open(options.dir, options.fsync));
  std::unique_ptr<RegistryServer> rs(new RegistryServer());
  rs->store_ = std::move(store);
  http::Router router;
  add_routes(router, rs->store_);
  http::ServerOptions so;
  so.host = options.host;
  so.port = options.port;
  so.workers = options.workers;
  so.name = "registry";
  so.errors = [](int status, std::string_view message) {
    // Confluent answers the stack's own errors with the HTTP status as error_code.
    return error_response(status, status, message);
  };
  SLUICE_ASSIGN_OR_RETURN(rs->server_, http::Server::start(std::move(so), std::move(router)));
  return rs;
}

RegistryServer::~RegistryServer() {
  if (server_) server_->stop();
}

}  // namespace sluice::registry
