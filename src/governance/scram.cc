#include "governance/scram.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <map>

namespace sluice::governance {

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == bytes.size()) {
    uint32_t v = uint8_t(bytes[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (text.size() % 4 != 0) return invalid_argument("base64: length is not a multiple of 4");
  std::string out;
  for (size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = text[i + k];
      if (c == '=' && i + 4 == text.size() && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad > 0 || (v[k] = value(c)) < 0) return invalid_argument("base64: invalid character");
    }
    uint32_t n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out += static_cast<char>((n >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

std::string sha256(std::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  return std::string(reinterpret_cast<char*>(md), sizeof(md));
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  return std::string(reinterpret_cast<char*>(md), len);
}

std::string random_bytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    throw std::runtime_error("OpenSSL RAND_bytes failed");
  }
  return out;
}

namespace {

std::string salted_password(std::string_view password, std::string_view salt, int iterations) {
  // RFC 5802: SaltedPassword := Hi(Normalize(password), salt, i), Hi being PBKDF2-HMAC.
  // SASLprep normalization is skipped; PostgreSQL too uses the raw bytes when they are not
  // valid UTF-8 or prep fails, and ASCII passwords are unchanged by it.
  unsigned char out[32];
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()),
                    static_cast<int>(salt.size()), iterations, EVP_sha256(), sizeof(out), out);
  return std::string(reinterpret_cast<char*>(out), sizeof(out));
}

std::string xor_bytes(std::string_view a, std::string_view b) {
  std::string out(a);
  for (size_t i = 0; i < out.size() && i < b.size(); ++i)
    out[i] = static_cast<char>(out[i] ^ b[i]);
  return out;
}

// Attributes of a SCRAM message: "n=user,r=nonce" -> {n: user, r: nonce}.
std::map<char, std::string> attributes(std::string_view msg) {
  std::map<char, std::string> out;
  size_t pos = 0;
  while (pos <= msg.size()) {
    size_t comma = msg.find(',', pos);
    if (comma == std::string_view::npos) comma = msg.size();
    auto part = msg.substr(pos, comma - pos);
    if (part.size() >= 2 && part[1] == '=') out[part[0]] = std::string(part.substr(2));
    pos = comma + 1;
  }
  return out;
}

std::string nonce() {
  return base64_encode(random_bytes(18));
}

}  // namespace

ScramVerifier make_scram_verifier(std::string_view password, std::string_view salt,
                                  int iterations) {
  ScramVerifier v;
  v.salt = std::string(salt);
  v.iterations = iterations;
  std::string salted = salted_password(password, salt, iterations);
  v.stored_key = sha256(hmac_sha256(salted, "Client Key"));
  v.server_key = hmac_sha256(salted, "Server Key");
  return v;
}

ScramVerifier make_scram_verifier(std::string_view password, int iterations) {
  return make_scram_verifier(password, random_bytes(16), iterations);
}

std::string ScramVerifier::to_string() const {
  return fmt::format("SCRAM-SHA-256${}:{}${}:{}", iterations, base64_encode(salt),
                     base64_encode(stored_key), base64_encode(server_key));
}

Result<ScramVerifier> ScramVerifier::parse(std::string_view text) {
  auto bad = [&] { return invalid_argument("not a SCRAM-SHA-256 verifier"); };
  constexpr std::string_view kPrefix = "SCRAM-SHA-256$";
  if (text.substr(0, kPrefix.size()) != kPrefix) return bad();
  text.remove_prefix(kPrefix.size());
  size_t colon = text.find(':'), dollar = text.find('$');
  if (colon == std::string_view::npos || dollar == std::string_view::npos || dollar < colon) {
    return bad();
  }
  size_t colon2 = text.find(':', dollar);
  if (colon2 == std::string_view::npos) return bad();
  ScramVerifier v;
  try {
    v.iterations = std::stoi(std::string(text.substr(0, colon)));
  } catch (const std::exception&) {
    return bad();
  }
  if (v.iterations < 1) return bad();
  SLUICE_ASSIGN_OR_RETURN(v.salt, base64_decode(text.substr(colon + 1, dollar - colon - 1)));
  SLUICE_ASSIGN_OR_RETURN(v.stored_key,
                          base64_decode(text.substr(dollar + 1, colon2 - dollar - 1)));
  SLUICE_ASSIGN_OR_RETURN(v.server_key, base64_decode(text.substr(colon2 + 1)));
  if (v.stored_key.size() != 32 || v.server_key.size() != 32) return bad();
  return v;
}

Result<std::string> ScramServer::client_first(std::string_view message) {
  // gs2-header: "n,," (no channel binding) or "y,," (client supports it, server does not).
  if (message.size() < 3 || (message[0] != 'n' && message[0] != 'y') || message[1] != ',') {
    return invalid_argument("SCRAM: channel binding is not supported; use sslmode without it");
  }
  size_t second = message.find(',', 2);
  if (second == std::string_view::npos) return invalid_argument("SCRAM: malformed client-first");
  client_first_bare_ = std::string(message.substr(second + 1));
  auto attrs = attributes(client_first_bare_);
  if (attrs.count('r') == 0 || attrs['r'].empty()) {
    return invalid_argument("SCRAM: client-first has no nonce");
  }
  nonce_ = attrs['r'] + nonce();
  server_first_ =
      fmt::format("r={},s={},i={}", nonce_, base64_encode(verifier_.salt), verifier_.iterations);
  return server_first_;
}

Result<std::string> ScramServer::client_final(std::string_view message) {
  if (server_first_.empty()) return invalid_argument("SCRAM: client-final before client-first");
  size_t p = message.rfind(",p=");
  if (p == std::string_view::npos) return invalid_argument("SCRAM: client-final has no proof");
  std::string without_proof(message.substr(0, p));
  auto attrs = attributes(message);
  if (attrs['r'] != nonce_) return invalid_argument("SCRAM: nonce mismatch");
  if (attrs['c'] != "biws" && attrs['c'] != "eSws") {
    return invalid_argument("SCRAM: unexpected channel binding");
  }
  SLUICE_ASSIGN_OR_RETURN(auto proof, base64_decode(attrs['p']));
  std::string auth_message = client_first_bare_ + "," + server_first_ + "," + without_proof;
  std::string client_signature = hmac_sha256(verifier_.stored_key, auth_message);
  std::string client_key = xor_bytes(proof, client_signature);
  if (proof.size() != 32 || sha256(client_key) != verifier_.stored_key) {
    return permission_denied("password authentication failed");
  }
  std::string server_signature = hmac_sha256(verifier_.server_key, auth_message);
  return "v=" + base64_encode(server_signature);
}

ScramClient::ScramClient(std::string password, std::string nonce_value)
    : password_(std::move(password)), nonce_(std::move(nonce_value)) {
  if (nonce_.empty()) nonce_ = nonce();
}

std::string ScramClient::client_first() const {
  return "n,,n=,r=" + nonce_;
}

Result<std::string> ScramClient::client_final(std::string_view server_first) {
  auto attrs = attributes(server_first);
  if (attrs['r'].rfind(nonce_, 0) != 0) return invalid_argument("SCRAM: server nonce mismatch");
  SLUICE_ASSIGN_OR_RETURN(auto salt, base64_decode(attrs['s']));
  int iterations = std::atoi(attrs['i'].c_str());
  if (iterations < 1) return invalid_argument("SCRAM: bad iteration count");
  std::string salted = salted_password(password_, salt, iterations);
  std::string client_key = hmac_sha256(salted, "Client Key");
  std::string stored_key = sha256(client_key);
  std::string without_proof = "c=biws,r=" + attrs['r'];
  std::string auth_message =
      std::string(client_first().substr(3)) + "," + std::string(server_first) + "," + without_proof;
  std::string proof = xor_bytes(client_key, hmac_sha256(stored_key, auth_message));
  server_signature_ = hmac_sha256(hmac_sha256(salted, "Server Key"), auth_message);
  return without_proof + ",p=" + base64_encode(proof);
}

Status ScramClient::verify_server_final(std::string_view server_final) const {
  auto attrs = attributes(server_final);
  SLUICE_ASSIGN_OR_RETURN(auto sig, base64_decode(attrs['v']));
  if (sig != server_signature_) return permission_denied("SCRAM: server signature mismatch");
  return Status::ok();
}

}  // namespace sluice::governance
