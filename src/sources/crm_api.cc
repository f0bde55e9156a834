// `sluice gen crm-api`: a deterministic CRM JSON API on Sluice's HTTP server stack, so the REST
// source can be demonstrated and tested without outside network.
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>

#include "common/log.h"
#include "http/server.h"
#include "sources/sources.h"

namespace sluice::sources {
namespace {

using nlohmann::json;

std::string iso(int64_t epoch_s) {
  std::time_t t = static_cast<std::time_t>(epoch_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

constexpr int64_t kBase = 1767225600;  // 2026-01-01T00:00:00Z

std::vector<json> make_customers(const CrmApiOptions& o) {
  static const char* first[] = {"Ana",  "Bruno", "Chloé", "Dmitri", "Eva",  "Farid", "Greta",
                                "Hiro", "Ines",  "Jonas", "Kemal",  "Lena", "Marta", "Nils"};
  static const char* last[] = {"Silva", "Müller", "Dubois", "Ivanov", "Rossi",  "Haddad",
                               "Berg",  "Tanaka", "García", "Novak",  "Yilmaz", "Kowalski"};
  static const char* countries[] = {"PT", "DE", "FR", "PL", "IT", "ES", "JP", "NL", "SE", "TR"};
  static const char* tags[] = {"vip", "newsletter", "b2b", "churn-risk", "beta"};
  std::mt19937_64 rng(o.seed);
  std::vector<json> out;
  for (int i = 1; i <= o.customers; ++i) {
    std::string f = first[rng() % std::size(first)];
    std::string l = last[rng() % std::size(last)];
    int64_t created = kBase + i * 3600;
    json c = {{"id", i},
              {"name", f + " " + l},
              {"email", fmt::format("customer{}@example.com", i)},
              {"country", countries[rng() % std::size(countries)]},
              {"lifetime_value", static_cast<double>(rng() % 500000) / 100.0},
              {"created_at", iso(created)},
              {"updated_at", iso(created + static_cast<int64_t>(rng() % 86400))},
              {"address", {{"city", fmt::format("City {}", rng() % 50)}, {"zip", rng() % 90000}}},
              {"tags", json::array({tags[rng() % std::size(tags)]})}};
    if (o.api_version >= 2) c["segment"] = (i % 3 == 0) ? "enterprise" : "consumer";
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<json> make_interactions(const CrmApiOptions& o) {
  static const char* kinds[] = {"call", "email", "meeting", "ticket"};
  std::mt19937_64 rng(o.seed + 1);
  std::vector<json> out;
  int64_t id = 0;
  for (int c = 1; c <= o.customers; ++c) {
    for (int k = 0; k < 3; ++k) {
      ++id;
      int64_t at = kBase + c * 3600 + k * 7200 + static_cast<int64_t>(rng() % 3600);
      out.push_back({{"id", id},
                     {"customer_id", c},
                     {"kind", kinds[rng() % std::size(kinds)]},
                     {"at", iso(at)},
                     {"updated_at", iso(at + 60)},
                     {"notes", k == 1 ? json(nullptr) : json(fmt::format("note {} — ok", id))}});
    }
  }
  return out;
}

class CrmApiImpl : public CrmApi {
 public:
  explicit CrmApiImpl(const CrmApiOptions& o)
      : opts_(o),
        customers_(make_customers(o)),
        interactions_(make_interactions(o)),
        rng_(o.seed + 7),
        started_(std::chrono::steady_clock::now()) {}

  Status start() {
    http::Router r;
    r.get("/customers", [this](http::Request& q) { return page(q, customers_, "/customers"); });
    r.get("/interactions",
          [this](http::Request& q) { return page(q, interactions_, "/interactions"); });
    r.get("/_stats", [this](http::Request&) {
      std::lock_guard lock(mu_);
      return http::Response::json(200, {{"requests", requests_},
                                        {"failures_injected", failures_},
                                        {"unauthorized", unauthorized_},
                                        {"max_per_second", max_per_second_}});
    });
    http::ServerOptions so;
    so.host = opts_.host;
    so.port = opts_.port;
    so.name = "crm-api";
    so.access_log = false;
    SLUICE_ASSIGN_OR_RETURN(server_, http::Server::start(so, std::move(r)));
    return Status::ok();
  }

  uint16_t port() const override { return server_->port(); }
  void run_until_signal() override { server_->run_until_signal(); }
  void stop() override { server_->stop(); }

 private:
  http::Response page(http::Request& q, const std::vector<json>& rows, const std::string& path) {
    {
      std::lock_guard lock(mu_);
      ++requests_;
      int64_t sec = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::steady_clock::now() - started_)
                        .count();
      if (sec != bucket_) {
        bucket_ = sec;
        in_bucket_ = 0;
      }
      max_per_second_ = std::max(max_per_second_, ++in_bucket_);
      if (q.header("Authorization") != "Bearer " + opts_.token) {
        ++unauthorized_;
        return http::Response::json(401, {{"error", "missing or wrong bearer token"}});
      }
      if (opts_.fail_rate > 0 &&
          std::uniform_real_distribution<double>(0, 1)(rng_) < opts_.fail_rate) {
        ++failures_;
        if (failures_ % 2 == 0) {
          return http::Response::json(503, {{"error", "temporarily unavailable"}});
        }
        return http::Response::json(429, {{"error", "slow down"}}).set_header("Retry-After", "0");
      }
    }
    auto num = [&](const std::string& k, int64_t def) -> int64_t {
      auto v = q.query_param(k);
      if (v.empty()) return def;
      try {
        return std::stoll(v);
      } catch (...) {
        return -1;
      }
    };
    int64_t limit = num("limit", 50);
    if (limit <= 0 || limit > 1000) {
      return http::Response::json(400, {{"error", "limit must be 1 to 1000"}});
    }
    std::string since = q.query_param("updated_since");
    // Position: ?cursor (the last id seen, opaque to clients), else ?offset.
    int64_t start = 0;
    std::string cursor = q.query_param("cursor");
    std::vector<const json*> selected;
    for (const auto& r : rows)
      if (since.empty() || r["updated_at"].get<std::string>() > since) selected.push_back(&r);
    if (!cursor.empty()) {
      if (cursor.rfind("id-", 0) != 0) return http::Response::json(400, {{"error", "bad cursor"}});
      int64_t after = std::atoll(cursor.c_str() + 3);
      while (start < static_cast<int64_t>(selected.size()) &&
             (*selected[static_cast<size_t>(start)])["id"].get<int64_t>() <= after)
        ++start;
    } else {
      start = num("offset", 0);
      if (start < 0) return http::Response::json(400, {{"error", "bad offset"}});
    }
    json data = json::array();
    int64_t end = std::min<int64_t>(start + limit, static_cast<int64_t>(selected.size()));
    for (int64_t i = start; i < end; ++i)
      data.push_back(*selected[static_cast<size_t>(i)]);
    json body = {{"data", data}, {"total", selected.size()}};
    http::Response resp = http::Response::json(200, body);
    if (end < static_cast<int64_t>(selected.size())) {
      std::string next_cursor =
          fmt::format("id-{}", (*selected[static_cast<size_t>(end - 1)])["id"].get<int64_t>());
      body["next_cursor"] = next_cursor;
      body["next_offset"] = end;
      resp = http::Response::json(200, body);
      std::string extra = since.empty() ? "" : "&updated_since=" + q.query_param("updated_since");
      resp.set_header("Link",
                      fmt::format("<http://{}:{}{}?limit={}&cursor={}{}>; rel=\"next\"", opts_.host,
                                  server_->port(), path, limit, next_cursor, extra));
    } else {
      body["next_cursor"] = nullptr;
      resp = http::Response::json(200, body);
    }
    return resp;
  }

  CrmApiOptions opts_;
  std::vector<json> customers_;
  std::vector<json> interactions_;
  std::mutex mu_;
  std::mt19937_64 rng_;
  std::chrono::steady_clock::time_point started_;
  int64_t requests_ = 0, failures_ = 0, unauthorized_ = 0, max_per_second_ = 0;
  int64_t bucket_ = -1, in_bucket_ = 0;
  std::unique_ptr<http::Server> server_;
};

}  // namespace

Result<std::unique_ptr<CrmApi>> start_crm_api(const CrmApiOptions& options) {
  if (options.token.empty()) return invalid_argument("crm-api: a bearer token is required");
  if (options.fail_rate < 0 || options.fail_rate >= 1) {
    return invalid_argument("crm-api: --fail-rate must be in [0, 1)");
  }
  auto api = std::make_unique<CrmApiImpl>(options);
  SLUICE_RETURN_IF_ERROR(api->start());
  return std::unique_ptr<CrmApi>(std::move(api));
}

}  // namespace sluice::sources
