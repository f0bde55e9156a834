#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "governance/governance.h"

namespace sluice::governance {

std::string_view access_name(Access a) {
  return a == Access::kRead ? "read" : "write";
}

Result<Access> parse_access(std::string_view name) {
  if (name == "read") return Access::kRead;
  if (name == "write") return Access::kWrite;
  return invalid_argument(fmt::format("unknown access '{}': use read or write", name));
}

bool User::allowed(Access access, std::string_view ns, std::string_view table) const {
  if (admin) return true;
  std::string qualified = table.empty() ? "" : fmt::format("{}.{}", ns, table);
  for (const auto& g : grants) {
    if (access == Access::kWrite && g.access != Access::kWrite) continue;
    if (g.object == "*" || g.object == ns || (!qualified.empty() && g.object == qualified)) {
      return true;
    }
  }
  return false;
}

Status check_user_name(std::string_view name) {
  if (name.empty() || name.size() > 63) {
    return invalid_argument(fmt::format("user name '{}' must have 1 to 63 characters", name));
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.' || c == '@';
    if (!ok) {
      return invalid_argument(
          fmt::format("user name '{}' may only use letters, digits, '_', '-', '.' and '@'", name));
    }
  }
  return Status::ok();
}

namespace {

Status check_object(std::string_view object) {
  if (object == "*") return Status::ok();
  size_t dot = object.find('.');
  auto part_ok = [](std::string_view p) {
    if (p.empty()) return false;
    for (char c : p) {
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '_' || c == '-'))
        return false;
    }
    return true;
  };
  bool ok = dot == std::string_view::npos
                ? part_ok(object)
                : part_ok(object.substr(0, dot)) && part_ok(object.substr(dot + 1));
  if (!ok) {
    return invalid_argument(
        fmt::format("grant object '{}': use *, a namespace (raw) or a table (raw.orders)", object));
  }
  return Status::ok();
}

// An advisory lock on <dir>/users.lock for the duration of a read-modify-write.
class FileLock {
 public:
  explicit FileLock(const std::filesystem::path& p) {
    fd_ = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);
  }
  ~FileLock() {
    if (fd_ >= 0) {
      ::flock(fd_, LOCK_UN);
      ::close(fd_);
    }
  }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace

UserStore::UserStore(std::filesystem::path dir)
    : dir_(std::move(dir)), path_(dir_ / "users.json") {}

Result<UserStore> UserStore::open(const std::filesystem::path& data_dir) {
  std::error_code ec;
  auto dir = data_dir / "governance";
  std::filesystem::create_directories(dir, ec);
  if (ec) return io_error(fmt::format("cannot create '{}': {}", dir.string(), ec.message()));
  UserStore store(dir);
  SLUICE_RETURN_IF_ERROR(store.reload());
  return store;
}

Status UserStore::reload() {
  FileLock lock(dir_ / "users.lock");
  return load_locked();
}

Status UserStore::load_locked() {
  users_.clear();
  std::error_code ec;
  if (!std::filesystem::exists(path_, ec)) return Status::ok();
  std::ifstream in(path_);
  if (!in) return io_error(fmt::format("cannot read '{}'", path_.string()));
  std::stringstream b;
  b << in.rdbuf();
  try {
    auto doc = nlohmann::json::parse(b.str());
    for (const auto& u : doc.at("users")) {
      User user;
      user.name = u.at("name").get<std::string>();
      user.admin = u.value("admin", false);
      user.created_ms = u.value("created_ms", int64_t{0});
      auto v = ScramVerifier::parse(u.at("scram").get<std::string>());
      if (!v.is_ok())
        return corruption(
            fmt::format("{}: user '{}': {}", path_.string(), user.name, v.status().message()));
      user.scram = std::move(v).value();
      for (const auto& g : u.value("grants", nlohmann::json::array())) {
        SLUICE_ASSIGN_OR_RETURN(auto access, parse_access(g.at("access").get<std::string>()));
        user.grants.push_back(Grant{access, g.at("object").get<std::string>()});
      }
      users_.push_back(std::move(user));
    }
  } catch (const nlohmann::json::exception& e) {
    return corruption(fmt::format("{}: {}", path_.string(), e.what()));
  }
  return Status::ok();
}

Status UserStore::save_locked() const {
  nlohmann::json users = nlohmann::json::array();
  for (const auto& u : users_) {
    nlohmann::json grants = nlohmann::json::array();
    for (const auto& g : u.grants)
      grants.push_back({{"access", access_name(g.access)}, {"object", g.object}});
    users.push_back({{"name", u.name},
                     {"admin", u.admin},
                     {"scram", u.scram.to_string()},
                     {"grants", grants},
                     {"created_ms", u.created_ms}});
  }
  nlohmann::json doc = {{"version", 1}, {"users", users}};
  std::string text = doc.dump(2) + "\n";
  auto tmp = path_;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return io_error(fmt::format("cannot write '{}'", tmp.string()));
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) {
      ::close(fd);
      return io_error(fmt::format("cannot write '{}'", tmp.string()));
    }
    done += static_cast<size_t>(n);
  }
  bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return io_error(fmt::format("cannot fsync '{}'", tmp.string()));
  std::error_code ec;
  std::filesystem::rename(tmp, path_, ec);
  if (ec) return io_error(fmt::format("cannot replace '{}': {}", path_.string(), ec.message()));
  int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::ok();
}

template <typename Fn>
Status UserStore::modify(Fn&& fn) {
  FileLock lock(dir_ / "users.lock");
  if (!lock.ok()) return io_error(fmt::format("cannot lock '{}'", (dir_ / "users.lock").string()));
  SLUICE_RETURN_IF_ERROR(load_locked());
  SLUICE_RETURN_IF_ERROR(fn());
  return save_locked();
}

std::optional<User> UserStore::find(std::string_view name) const {
  for (const auto& u : users_)
    if (u.name == name) return u;
  return std::nullopt;
}

namespace {
Status no_user(std::string_view name) {
  return not_found(fmt::format("user '{}' does not exist (sluice user list shows users)", name));
}
Status check_password(std::string_view password) {
  if (password.empty()) return invalid_argument("the password is empty");
  return Status::ok();
}
}  // namespace

Status UserStore::add_user(std::string_view name, std::string_view password, bool admin) {
  SLUICE_RETURN_IF_ERROR(check_user_name(name));
  SLUICE_RETURN_IF_ERROR(check_password(password));
  ScramVerifier v = make_scram_verifier(password);
  return modify([&]() -> Status {
    for (const auto& u : users_)
      if (u.name == name) return already_exists(fmt::format("user '{}' already exists", name));
    User u;
    u.name = std::string(name);
    u.admin = admin;
    u.scram = v;
    u.created_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
    users_.push_back(std::move(u));
    return Status::ok();
  });
}

Status UserStore::set_password(std::string_view name, std::string_view password) {
  SLUICE_RETURN_IF_ERROR(check_password(password));
  ScramVerifier v = make_scram_verifier(password);
  return modify([&]() -> Status {
    for (auto& u : users_) {
      if (u.name != name) continue;
      u.scram = v;
      return Status::ok();
    }
    return no_user(name);
  });
}

Status UserStore::set_admin(std::string_view name, bool admin) {
  return modify([&]() -> Status {
    for (auto& u : users_) {
      if (u.name != name) continue;
      u.admin = admin;
      return Status::ok();
    }
    return no_user(name);
  });
}

Status UserStore::remove_user(std::string_view name) {
  return modify([&]() -> Status {
    for (auto it = users_.begin(); it != users_.end(); ++it) {
      if (it->name != name) continue;
      users_.erase(it);
      return Status::ok();
    }
    return no_user(name);
  });
}

Status UserStore::grant(std::string_view name, Access access, std::string_view object) {
  SLUICE_RETURN_IF_ERROR(check_object(object));
  return modify([&]() -> Status {
    for (auto& u : users_) {
      if (u.name != name) continue;
      Grant g{access, std::string(object)};
      for (const auto& existing : u.grants)
        if (existing == g) return Status::ok();
      u.grants.push_back(std::move(g));
      return Status::ok();
    }
    return no_user(name);
  });
}

Status UserStore::revoke(std::string_view name, Access access, std::string_view object) {
  return modify([&]() -> Status {
    for (auto& u : users_) {
      if (u.name != name) continue;
      auto before = u.grants.size();
      std::erase(u.grants, Grant{access, std::string(object)});
      if (before == u.grants.size()) {
        return not_found(
            fmt::format("user '{}' has no {} grant on {}", name, access_name(access), object));
      }
      return Status::ok();
    }
    return no_user(name);
  });
}

}  // namespace sluice::governance
