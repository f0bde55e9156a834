// The gateway's grant check on one SQL statement, public so that every SQL surface (the
// gateway's wire protocol, the console's JSON API) enforces the same grants.
#include <fmt/format.h>

#include <set>

#include "common/log.h"
#include "gateway/gateway.h"
#include "gateway/sql_scan_internal.h"

namespace sluice::gateway {

Status authorize_statement(const governance::User& user, std::string_view sql,
                           const lake::Catalog& catalog,
                           const std::vector<std::string>& search_path) {
  if (user.admin) return Status::ok();
  auto t = detail::tokenize(sql);
  std::string feature = detail::forbidden_feature(t);
  if (!feature.empty()) {
    log::warn("permission denied",
              {log::kv("user", user.name), log::kv("table", "-"), log::kv("action", feature)});
    return permission_denied(fmt::format(
        "permission denied: {} are reserved to admin users through the gateway", feature));
  }
  SLUICE_ASSIGN_OR_RETURN(auto list, catalog.list_namespaces());
  std::set<std::string> nss(list.begin(), list.end());
  if (auto schema = detail::schema_target(t)) {
    if (!user.allowed(governance::Access::kWrite, *schema, "")) {
      log::warn("permission denied", {log::kv("user", user.name), log::kv("table", *schema),
                                      log::kv("action", t[0].text + " schema")});
      return permission_denied(fmt::format("permission denied for schema {}", *schema));
    }
  }
  auto refs = detail::table_refs(t, nss, [&](const std::string& name) -> std::string {
    for (const auto& ns : search_path) {
      if (nss.count(ns) && catalog.table_exists({ns, name})) return ns;
    }
    return "";
  });
  for (const auto& ref : refs) {
    auto access = ref.write ? governance::Access::kWrite : governance::Access::kRead;
    if (user.allowed(access, ref.ns, ref.name)) continue;
    std::string action = ref.write ? (t.empty() ? "write" : t[0].text) : "read";
    log::warn("permission denied",
              {log::kv("user", user.name), log::kv("table", ref.ns + "." + ref.name),
               log::kv("action", action)});
    return permission_denied(fmt::format("permission denied for table {}.{}", ref.ns, ref.name));
  }
  return Status::ok();
}

}  // namespace sluice::gateway
