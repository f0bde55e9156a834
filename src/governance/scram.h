// SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL uses it: the verifier Sluice stores for a
// password (never the password itself) and the server side of the exchange.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice::governance {

// What is stored per user: salt, iteration count, StoredKey = H(HMAC(SaltedPassword, "Client
// Key")) and ServerKey = HMAC(SaltedPassword, "Server Key"). Keys and salt are raw bytes.
struct ScramVerifier {
  std::string salt;
  int iterations = 0;
  std::string stored_key;
  std::string server_key;

  // PostgreSQL's text form: SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey> (base64).
  std::string to_string() const;
  static Result<ScramVerifier> parse(std::string_view text);
};

inline constexpr int kDefaultScramIterations = 4096;

// A verifier for `password` with a fresh random 16-byte salt.
ScramVerifier make_scram_verifier(std::string_view password,
                                  int iterations = kDefaultScramIterations);
// The same with a given salt (tests, and the client side of tests).
ScramVerifier make_scram_verifier(std::string_view password, std::string_view salt, int iterations);

std::string base64_encode(std::string_view bytes);
Result<std::string> base64_decode(std::string_view text);
std::string sha256(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);
std::string random_bytes(size_t n);

// The server side of one SCRAM-SHA-256 exchange (no channel binding). Usage: client_first()
// returns the server-first-message; client_final() checks the proof and returns the
// server-final-message. A wrong password is kPermissionDenied.
class ScramServer {
 public:
  // `verifier` is the user's; for an unknown user pass a made-up one so that the exchange looks
  // the same and fails at the proof.
  explicit ScramServer(ScramVerifier verifier) : verifier_(std::move(verifier)) {}

  Result<std::string> client_first(std::string_view message);
  Result<std::string> client_final(std::string_view message);

 private:
  ScramVerifier verifier_;
  std::string client_first_bare_;
  std::string server_first_;
  std::string nonce_;
};

// The client side, for tests and tools: builds client-first, then client-final from the
// server-first message; verifies the server's signature.
class ScramClient {
 public:
  ScramClient(std::string password, std::string nonce = "");
  std::string client_first() const;
  Result<std::string> client_final(std::string_view server_first);
  Status verify_server_final(std::string_view server_final) const;

 private:
  std::string password_;
  std::string nonce_;
  std::string server_signature_;
};

}  // namespace sluice::governance
