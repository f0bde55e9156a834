// Governance: Sluice users, their password verifiers and their grants. Used by the SQL gateway
// (authentication, read/write checks) and the `sluice user` command.
//
// Users live in <data_dir>/governance/users.json, rewritten atomically (temp file + fsync +
// rename) under an advisory lock, so the CLI and a running gateway can share it: the gateway
// reloads the file when a client logs in.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "governance/scram.h"

namespace sluice::governance {

enum class Access { kRead, kWrite };
std::string_view access_name(Access a);
Result<Access> parse_access(std::string_view name);

// A grant on "*" (everything), a namespace ("raw") or a table ("raw.orders"). A write grant
// includes read.
struct Grant {
  Access access = Access::kRead;
  std::string object;
  bool operator==(const Grant&) const = default;
};

struct User {
  std::string name;
  bool admin = false;  // superuser: every grant implied
  ScramVerifier scram;
  std::vector<Grant> grants;
  int64_t created_ms = 0;

  // True when the user may `access` table `ns.table` (or the namespace itself when `table` is
  // empty, e.g. CREATE TABLE in it).
  bool allowed(Access access, std::string_view ns, std::string_view table) const;
};

// True when `password` matches the user's SCRAM verifier (constant-time comparison); used where a
// client sends a plain password over its own channel (the console's login form).
bool check_password(const User& user, std::string_view password);

// Checks a user or object name: letters, digits, '_', '-', '.', '@'; 1..63 characters.
Status check_user_name(std::string_view name);

class UserStore {
 public:
  // Opens (or starts) the store under <data_dir>/governance.
  static Result<UserStore> open(const std::filesystem::path& data_dir);

  // Re-reads the file (another process may have changed it).
  Status reload();

  std::optional<User> find(std::string_view name) const;
  const std::vector<User>& users() const { return users_; }

  // Each change reloads, applies and saves under the store's lock.
  Status add_user(std::string_view name, std::string_view password, bool admin);
  Status set_password(std::string_view name, std::string_view password);
  Status set_admin(std::string_view name, bool admin);
  Status remove_user(std::string_view name);
  Status grant(std::string_view name, Access access, std::string_view object);
  Status revoke(std::string_view name, Access access, std::string_view object);

  const std::filesystem::path& path() const { return path_; }

 private:
  explicit UserStore(std::filesystem::path dir);
  template <typename Fn>
  Status modify(Fn&& fn);
  Status load_locked();
  Status save_locked() const;

  std::filesystem::path dir_;
  std::filesystem::path path_;
  std::vector<User> users_;
};

}  // namespace sluice::governance
