// Checking a plain password against a user's SCRAM-SHA-256 verifier (used by the console's
// login form, where the browser sends the password over the console's own connection).
#include <openssl/crypto.h>

#include "governance/governance.h"

namespace sluice::governance {

bool check_password(const User& user, std::string_view password) {
  const ScramVerifier& v = user.scram;
  if (v.iterations <= 0 || v.salt.empty() || v.stored_key.empty()) return false;
  ScramVerifier computed = make_scram_verifier(password, v.salt, v.iterations);
  if (computed.stored_key.size() != v.stored_key.size()) return false;
  return CRYPTO_memcmp(computed.stored_key.data(), v.stored_key.data(), v.stored_key.size()) == 0;
}

}  // namespace sluice::governance
