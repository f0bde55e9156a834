// The server over real sockets: Sluice's own client and curl.
#include "http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "common/log.h"
#include "http/client.h"

namespace sluice::http {
namespace {

namespace fs = std::filesystem;

// Runs a shell command under a hard time limit and returns its stdout.
std::string sh(const std::string& cmd, int* exit_code = nullptr) {
  std::string full = "timeout -k 2 20 " + cmd;
  FILE* p = ::popen(full.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
    out.append(buf, n);
  int rc = ::pclose(p);
  if (exit_code) *exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

// A raw TCP client that reads the response bytes as they arrive (to see chunks one by one).
class RawClient {
 public:
  explicit RawClient(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~RawClient() { close(); }
  bool connected() const { return connected_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool send(const std::string& data) {
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  // Reads until `got` contains `needle` (or the peer closes, or `timeout_ms` passes).
  bool read_until(const std::string& needle, int timeout_ms = 10000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (got.find(needle) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char buf[65536];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        eof = true;
        return got.find(needle) != std::string::npos;
      }
      got.append(buf, static_cast<size_t>(n));
    }
    return true;
  }
  // Reads until the peer closes.
  void read_to_eof(int timeout_ms = 10000) { read_until(std::string(1, '\0'), timeout_ms); }

  std::string got;
  bool eof = false;

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// Decodes a chunked body (the bytes after the head); nullopt if it is malformed or unfinished.
std::optional<std::string> dechunk(std::string_view s, std::vector<std::string>* chunks = nullptr) {
  std::string out;
  for (;;) {
    auto eol = s.find("\r\n");
    if (eol == std::string_view::npos) return std::nullopt;
    size_t n = std::stoul(std::string(s.substr(0, eol)), nullptr, 16);
    s.remove_prefix(eol + 2);
    if (n == 0) return s == "\r\n" ? std::optional<std::string>(out) : std::nullopt;
    if (s.size() < n + 2 || s.substr(n, 2) != "\r\n") return std::nullopt;
    out.append(s.substr(0, n));
    if (chunks) chunks->emplace_back(s.substr(0, n));
    s.remove_prefix(n + 2);
  }
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override { log::init(log::Level::kWarn, log::Format::kText); }

  void start(Router r, ServerOptions o = {}) {
    o.host = "127.0.0.1";
    o.port = 0;
    auto s = Server::start(std::move(o), std::move(r));
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    server_ = std::move(s).value();
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + path;
  }
  Client client(int timeout_ms = 10000) { return Client("127.0.0.1", server_->port(), timeout_ms); }

  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, JsonRoundTripAndKeepAlive) {
  std::atomic<int> calls{0};
  Router r;
  r.post("/echo/{name}", [&](Request& q) {
    ++calls;
    auto j = q.json();
    if (!j.is_ok()) return Response::error(400, j.status().message());
    return Response::json(201, {{"name", q.param("name")}, {"body", *j}, {"v", q.query_param("v")}},
                          "application/vnd.test+json");
  });
  start(std::move(r));
  auto c = client();
  for (int i = 0; i < 20; ++i) {
    auto res = c.post("/echo/a%20b?v=" + std::to_string(i), R"({"k":[1,2]})");
    ASSERT_TRUE(res.is_ok()) << res.status().to_string();
    EXPECT_EQ(res->status, 201);
    EXPECT_EQ(res->header("content-type"), "application/vnd.test+json");
    EXPECT_EQ(res->body, R"({"body":{"k":[1,2]},"name":"a b","v":")" + std::to_string(i) + "\"}");
    EXPECT_TRUE(c.connected());  // keep-alive: one connection for all requests
  }
  EXPECT_EQ(calls.load(), 20);
  auto closing = c.request("GET", "/nothing", "", {{"Connection", "close"}});
  ASSERT_TRUE(closing.is_ok());
  EXPECT_EQ(closing->status, 404);
  EXPECT_FALSE(c.connected());
}

TEST_F(ServerTest, BodyAndHeaderLimits) {
  Router r;
  r.post("/upload", [](Request& q) { return Response::text(200, std::to_string(q.body.size())); });
  ServerOptions o;
  o.max_body_bytes = 1024;
  o.max_header_bytes = 2048;
  start(std::move(r), o);
  auto c = client();
  auto small = c.post("/upload", std::string(1000, 'x'), "text/plain");
  ASSERT_TRUE(small.is_ok());
  EXPECT_EQ(small->body, "1000");
  auto big = c.post("/upload", std::string(5000, 'x'), "text/plain");
  ASSERT_TRUE(big.is_ok()) << big.status().to_string();
  EXPECT_EQ(big->status, 413);
  EXPECT_EQ(big->body, R"({"error_code":413,"message":"request body larger than 1024 bytes"})");
  auto c2 = client();
  auto huge_header = c2.request("GET", "/upload", "", {{"X-Big", std::string(4000, 'h')}});
  ASSERT_TRUE(huge_header.is_ok()) << huge_header.status().to_string();
  EXPECT_EQ(huge_header->status, 431);
}

TEST_F(ServerTest, BlockingHandlerDoesNotStallOthers) {
  std::promise<void> release;
  auto released = release.get_future().share();
  Router r;
  r.get("/slow", [released](Request&) {
    released.wait_for(std::chrono::seconds(10));
    return Response::text(200, "slow");
  });
  r.get("/fast", [](Request&) { return Response::text(200, "fast"); });
  start(std::move(r));
  auto slow = std::async(std::launch::async, [this] {
    auto c = client();
    return c.get("/slow");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto c = client(3000);
  auto fast = c.get("/fast");  // answered while /slow is still blocked
  ASSERT_TRUE(fast.is_ok()) << fast.status().to_string();
  EXPECT_EQ(fast->body, "fast");
  EXPECT_EQ(slow.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  release.set_value();
  auto s = slow.get();
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ(s->body, "slow");
}

TEST_F(ServerTest, GracefulShutdownFinishesInFlightRequests) {
  std::promise<void> entered;
  Router r;
  r.get("/work", [&entered](Request&) {
    entered.set_value();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return Response::text(200, "done");
  });
  r.get("/ping", [](Request&) { return Response::text(200, "pong"); });
  start(std::move(r));
  auto idle = client();
  ASSERT_TRUE(idle.get("/ping").is_ok());  // an idle keep-alive connection
  auto inflight = std::async(std::launch::async, [this] {
    auto c = client();
    return c.get("/work");
  });
  entered.get_future().wait();
  auto t0 = std::chrono::steady_clock::now();
  server_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(4));
  auto res = inflight.get();
  ASSERT_TRUE(res.is_ok()) << res.status().to_string();
  EXPECT_EQ(res->body, "done");
  EXPECT_EQ(res->header("Connection"), "close");
  // The listener is gone.
  Client late("127.0.0.1", server_->port(), 1000);
  EXPECT_FALSE(late.get("/ping").is_ok());
  server_->wait();  // returns at once: already stopped
}

TEST_F(ServerTest, ListenErrorNamesAddress) {
  Router r;
  auto first = Server::start({.host = "127.0.0.1", .port = 0}, Router());
  ASSERT_TRUE(first.is_ok());
  uint16_t taken = (*first)->port();
  ServerOptions o;
  o.host = "127.0.0.1";
  o.port = taken;
  o.name = "registry";
  auto second = Server::start(o, std::move(r));
  ASSERT_FALSE(second.is_ok());
  EXPECT_NE(second.status().message().find("registry: cannot listen on 127.0.0.1:" +
                                           std::to_string(taken)),
            std::string::npos)
      << second.status().message();
}

TEST_F(ServerTest, CurlJsonHeadAndErrors) {
  Router r;
  r.get("/items/{id}", [](Request& q) { return Response::json(200, {{"id", q.param("id")}}); });
  r.put("/items/{id}", [](Request& q) {
    return Response::json(200, {{"id", q.param("id")}, {"ct", q.header("Content-Type")}});
  });
  start(std::move(r));
  EXPECT_EQ(sh("curl -sS " + url("/items/7")), R"({"id":"7"})");
  EXPECT_EQ(sh("curl -sS -X PUT -H 'Content-Type: application/json' -d '{}' " + url("/items/8")),
            R"({"ct":"application/json","id":"8"})");
  std::string head = sh("curl -sS -I " + url("/items/9"));
  EXPECT_NE(head.find("HTTP/1.1 200 OK"), std::string::npos) << head;
  EXPECT_NE(head.find("Content-Length: 10"), std::string::npos) << head;
  EXPECT_NE(head.find("Content-Type: application/json"), std::string::npos) << head;
  EXPECT_EQ(sh("curl -sS -o /dev/null -w '%{http_code}' -X DELETE " + url("/items/9")), "405");
  EXPECT_EQ(sh("curl -sS -o /dev/null -w '%{http_code}' " + url("/nope")), "404");
  // Two requests on one curl invocation reuse the connection.
  std::string verbose = sh("curl -sS -v " + url("/items/1") + " " + url("/items/2") + " 2>&1");
  EXPECT_NE(verbose.find("Re-using existing connection"), std::string::npos) << verbose;
}

TEST_F(ServerTest, CurlStaticFilesWithoutTraversal) {
  auto base = fs::temp_directory_path() / ("sluice_http_srv_" + std::to_string(::getpid()));
  fs::remove_all(base);
  fs::create_directories(base / "www");
  std::ofstream(base / "www" / "index.html") << "<p>hi</p>";
  std::ofstream(base / "www" / "app.css") << "p{}";
  std::ofstream(base / "secret") << "s3cret";
  Router r;
  r.static_files("/ui", base / "www");
  start(std::move(r));
  EXPECT_EQ(sh("curl -sS " + url("/ui/")), "<p>hi</p>");
  EXPECT_EQ(sh("curl -sS -o /dev/null -w '%{content_type}' " + url("/ui/app.css")),
            "text/css; charset=utf-8");
  EXPECT_EQ(sh("curl -sS --path-as-is -o /dev/null -w '%{http_code}' " + url("/ui/../secret")),
            "404");
  EXPECT_EQ(sh("curl -sS --path-as-is -o /dev/null -w '%{http_code}' " + url("/ui/%2e%2e/secret")),
            "404");
  fs::remove_all(base);
}

TEST_F(ServerTest, StreamedResponseSendsChunksAsTheyAreWrittenThenKeepsTheConnection) {
  std::promise<void> first_read;
  auto first_read_f = first_read.get_future();
  std::atomic<bool> producer_done{false};
  Router r;
  r.use([](Request& q, const Handler& next) {
    Response res = next(q);
    res.set_header("X-Wrapped", "yes");
    return res;
  });
  r.get("/stream", [&](Request&) {
    return Response::stream(200, "application/x-ndjson", [&](ChunkSink& out) {
      EXPECT_TRUE(out.write("{\"n\":1}\n"));
      // The client must see the first chunk while the producer is still running.
      EXPECT_EQ(first_read_f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
      EXPECT_TRUE(out.write(""));  // sends nothing (a zero-size chunk would end the body)
      EXPECT_TRUE(out.write("{\"n\":2}\n"));
      EXPECT_TRUE(out.write(std::string(100000, 'x') + "\n"));
      producer_done = true;
      return true;
    });
  });
  r.get("/plain", [](Request&) { return Response::text(200, "plain"); });
  start(std::move(r));

  RawClient c(server_->port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("GET /stream HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(c.read_until("{\"n\":1}\n\r\n")) << c.got;
  EXPECT_FALSE(producer_done.load());
  auto head_end = c.got.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos);
  std::string head = c.got.substr(0, head_end + 4);
  EXPECT_NE(head.find("HTTP/1.1 200 OK\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("Content-Type: application/x-ndjson\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("X-Wrapped: yes\r\n"), std::string::npos) << head;
  EXPECT_EQ(head.find("Content-Length"), std::string::npos) << head;
  first_read.set_value();
  ASSERT_TRUE(c.read_until("\r\n0\r\n\r\n")) << c.got.size();
  std::vector<std::string> chunks;
  auto body = dechunk(std::string_view(c.got).substr(head_end + 4), &chunks);
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ(*body, "{\"n\":1}\n{\"n\":2}\n" + std::string(100000, 'x') + "\n");
  EXPECT_EQ(chunks.size(), 3u);  // one chunk per write
  EXPECT_TRUE(producer_done.load());

  // Keep-alive: the same connection serves the next request.
  c.got.clear();
  ASSERT_TRUE(c.send("GET /plain HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(c.read_until("plain")) << c.got;
  EXPECT_NE(c.got.find("HTTP/1.1 200 OK"), std::string::npos);
  EXPECT_FALSE(c.eof);

  // Sluice's client and curl read the whole body; HEAD gets the headers only.
  auto cl = client();
  auto whole = cl.get("/stream");
  ASSERT_TRUE(whole.is_ok()) << whole.status().to_string();
  EXPECT_EQ(whole->body.size(), 2 * 8 + 100001u);
  EXPECT_TRUE(cl.connected());
  EXPECT_EQ(cl.get("/plain")->body, "plain");
  EXPECT_EQ(sh("curl -sS " + url("/stream") + " | wc -c"), "100017\n");
  std::string curl_head = sh("curl -sS -I " + url("/stream"));
  EXPECT_NE(curl_head.find("Content-Type: application/x-ndjson"), std::string::npos) << curl_head;
  EXPECT_EQ(curl_head.find("Content-Length"), std::string::npos) << curl_head;
}

TEST_F(ServerTest, ClientGoneStopsTheProducer) {
  std::promise<std::pair<int, bool>> result;  // writes done, last write's result
  auto result_f = result.get_future();
  Router r;
  r.get("/endless", [&](Request&) {
    return Response::stream(200, "text/plain", [&](ChunkSink& out) {
      std::string piece(64 << 10, 'y');
      int n = 0;
      bool ok = true;
      auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (ok && std::chrono::steady_clock::now() < give_up) {
        ok = out.write(piece);
        ++n;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      EXPECT_FALSE(out.ok());
      result.set_value({n, ok});
      return ok;
    });
  });
  r.get("/ping", [](Request&) { return Response::text(200, "pong"); });
  start(std::move(r));
  {
    RawClient c(server_->port());
    ASSERT_TRUE(c.send("GET /endless HTTP/1.1\r\nHost: t\r\n\r\n"));
    ASSERT_TRUE(c.read_until(std::string(1000, 'y')));
  }  // closes the socket mid-stream
  ASSERT_EQ(result_f.wait_for(std::chrono::seconds(15)), std::future_status::ready);
  auto [writes, last_ok] = result_f.get();
  EXPECT_FALSE(last_ok);  // stopped by the failed write, not by the 20 s guard
  EXPECT_GE(writes, 1);
  // The worker is free again and the server still answers.
  EXPECT_EQ(client().get("/ping")->body, "pong");
}

TEST_F(ServerTest, StreamedResponseToHttp10AndAnAbortedProducer) {
  Router r;
  r.get("/s", [](Request&) {
    return Response::stream(200, "text/plain", [](ChunkSink& out) {
      out.write("one ");
      out.write("two");
      return true;
    });
  });
  r.get("/broken", [](Request&) {
    return Response::stream(200, "text/plain", [](ChunkSink& out) {
      out.write("partial");
      return false;  // abort: no last chunk, the connection closes
    });
  });
  start(std::move(r));
  {
    RawClient c(server_->port());
    ASSERT_TRUE(c.send("GET /s HTTP/1.0\r\n\r\n"));
    c.read_to_eof();
    EXPECT_TRUE(c.eof);
    EXPECT_EQ(c.got.find("chunked"), std::string::npos) << c.got;
    EXPECT_EQ(c.got.substr(c.got.find("\r\n\r\n") + 4), "one two");
  }
  {
    RawClient c(server_->port());
    ASSERT_TRUE(c.send("GET /broken HTTP/1.1\r\nHost: t\r\n\r\n"));
    c.read_to_eof();
    EXPECT_TRUE(c.eof);
    EXPECT_NE(c.got.find("7\r\npartial\r\n"), std::string::npos) << c.got;
    EXPECT_EQ(c.got.find("0\r\n\r\n"), std::string::npos) << c.got;
  }
  auto res = client().get("/broken");
  EXPECT_FALSE(res.is_ok());  // a truncated body is an error, not a short success
}

}  // namespace
}  // namespace sluice::http
