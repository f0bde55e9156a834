// File I/O, ids and clocks for the lake (local filesystem).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "lake/lake_internal.h"

namespace sluice::lake::detail {

namespace {
std::mt19937_64& rng() {
  thread_local std::mt19937_64 gen([] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }());
  return gen;
}

std::mutex& fault_mutex() {
  static std::mutex m;
  return m;
}
FaultHook& fault_hook() {
  static FaultHook hook;
  return hook;
}
}  // namespace

std::string new_uuid() {
  uint64_t hi = rng()(), lo = rng()();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
  char buf[37];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return buf;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t new_snapshot_id() {
  // Positive and non-zero, as Iceberg's own ids are.
  int64_t id = 0;
  while (id == 0)
    id = static_cast<int64_t>(rng()() & 0x7fffffffffffffffULL);
  return id;
}

std::string local_path(const std::string& p) {
  if (p.rfind("file://", 0) == 0) return p.substr(7);
  if (p.rfind("file:/", 0) == 0) return p.substr(5);
  return p;
}

Result<std::string> read_file(const std::string& path) {
  std::string lp = local_path(path);
  if (lp.find("://") != std::string::npos) {
    return unimplemented(path + ": only local files are supported by the embedded lake");
  }
  std::ifstream in(lp, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return not_found(path + ": no such file");
    return io_error(path + ": " + std::strerror(errno));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return io_error(path + ": read failed");
  return ss.str();
}

Status write_new_file(const std::string& path, std::string_view bytes, bool sync) {
  std::string lp = local_path(path);
  int fd = ::open(lp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return io_error(path + ": cannot create: " + std::strerror(errno));
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status st = io_error(path + ": write failed: " + std::strerror(errno));
      ::close(fd);
      ::unlink(lp.c_str());
      return st;
    }
    off += static_cast<size_t>(n);
  }
  if (sync && ::fsync(fd) != 0) {
    Status st = io_error(path + ": fsync failed: " + std::strerror(errno));
    ::close(fd);
    return st;
  }
  if (::close(fd) != 0) return io_error(path + ": close failed: " + std::strerror(errno));
  return Status::ok();
}

Status fsync_dir(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error(dir.string() + ": cannot open folder: " + std::strerror(errno));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return io_error(dir.string() + ": fsync failed: " + std::strerror(errno));
  return Status::ok();
}

namespace {

Status fsync_path(const std::string& path, bool is_dir) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (is_dir ? O_DIRECTORY : 0));
  // A path that does not exist (a file registered by another system, a test's made-up path) has
  // nothing of ours to flush.
  if (fd < 0 && errno == ENOENT) return Status::ok();
  if (fd < 0) return io_error(path + ": cannot open to sync: " + std::strerror(errno));
  int rc = is_dir ? ::fsync(fd) : ::fdatasync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return io_error(path + ": fsync failed: " + std::strerror(err));
  return Status::ok();
}

}  // namespace

// On up to 8 threads at once: the order among the paths does not matter, only that all are done
// before the commit goes on, so a small write pays about one device flush. The first error wins.
Status sync_paths(const std::vector<std::string>& paths) {
  auto sync = [](const std::string& p) {
    return p.back() == '/' ? fsync_path(p.substr(0, p.size() - 1), true) : fsync_path(p, false);
  };
  const size_t n = std::min<size_t>(8, paths.size());
  if (n <= 1) {
    for (const auto& p : paths)
      SLUICE_RETURN_IF_ERROR(sync(p));
    return Status::ok();
  }
  std::mutex mu;
  Status first = Status::ok();
  std::vector<std::thread> threads;
  for (size_t t = 0; t < n; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = t; i < paths.size(); i += n) {
        Status st = sync(paths[i]);
        if (st.is_ok()) continue;
        std::lock_guard<std::mutex> lock(mu);
        if (first.is_ok()) first = st;
        return;
      }
    });
  }
  for (auto& th : threads)
    th.join();
  return first;
}

namespace {

std::string top_of(const std::string& root) {
  std::string top = local_path(root);
  while (top.size() > 1 && top.back() == '/')
    top.pop_back();
  return top;
}

}  // namespace

Status sync_new_files(const std::vector<std::string>& paths, const std::string& root) {
  std::vector<std::string> files;
  for (const auto& p : paths) {
    std::string lp = local_path(p);
    if (lp.find("://") == std::string::npos) files.push_back(std::move(lp));
  }
  if (files.empty()) return Status::ok();
  if (files.size() > kSyncEachMax) {
    int fd = ::open(files[0].c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) fd = ::open(top_of(root).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return io_error(files[0] + ": cannot open to sync: " + std::strerror(errno));
    int rc = ::syncfs(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return io_error(files[0] + ": syncfs failed: " + std::strerror(err));
    return Status::ok();
  }
  const std::string top = top_of(root);
  std::set<std::string> dirs;
  for (const auto& f : files) {
    for (auto d = std::filesystem::path(f).parent_path(); !d.empty(); d = d.parent_path()) {
      if (!dirs.insert(d.string()).second) break;
      if (d.string().rfind(top + "/", 0) != 0) break;  // reached the root, or not under it
    }
  }
  for (const auto& d : dirs)
    files.push_back(d + "/");
  return sync_paths(files);
}

void set_fault_hook(FaultHook hook) {
  std::lock_guard<std::mutex> lock(fault_mutex());
  fault_hook() = std::move(hook);
}

Status fault_point(std::string_view point) {
  FaultHook hook;
  {
    std::lock_guard<std::mutex> lock(fault_mutex());
    hook = fault_hook();
  }
  if (!hook) {
    // A real crash for tests that run the binary: SLUICE_TEST_CRASH_AT=<point> kills the
    // process with SIGKILL there (no destructor, no flush, no unlock but the kernel's).
    static const char* crash_at = std::getenv("SLUICE_TEST_CRASH_AT");
    if (crash_at != nullptr && point == crash_at) ::kill(::getpid(), SIGKILL);
    return Status::ok();
  }
  return hook(point);
}

}  // namespace sluice::lake::detail
