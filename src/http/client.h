// A small blocking HTTP/1.1 client over one keep-alive connection (Boost.Beast): for tests,
// benchmarks and Sluice's own calls to its REST surfaces (e.g. fetching a schema by id).
// Not thread-safe: one Client per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sluice::http {

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // Empty when absent; case-insensitive.
  std::string header(std::string_view name) const;
};

class Client {
 public:
  Client(std::string host, uint16_t port, int timeout_ms = 10000);
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;

  // Sends one request and reads the response. Reconnects once when the server closed an idle
  // keep-alive connection. IOError/Timeout when the server cannot be reached or does not answer.
  Result<ClientResponse> request(std::string_view method, std::string_view target,
                                 std::string body = "",
                                 std::vector<std::pair<std::string, std::string>> headers = {});
  Result<ClientResponse> get(std::string_view target) { return request("GET", target); }
  // POST/PUT with Content-Type application/json unless given.
  Result<ClientResponse> post(std::string_view target, std::string body,
                              std::string content_type = "application/json");
  Result<ClientResponse> put(std::string_view target, std::string body,
                             std::string content_type = "application/json");

  // Whether the last response kept the connection open.
  bool connected() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::http
