// Token verification for the auth_jwt module: signing keys prepared once,
// then one verify() call per token.
//
// libjwt decodes the token (base64url and JSON of header and claims). The
// signature is checked here with OpenSSL against keys parsed when the module
// is configured: libjwt 1.10 only takes a PEM text and parses it again for
// every token, which costs far more than the RSA or ECDSA verification
// itself, and compares HMAC signatures with strcmp. Doing the check here
// keeps per-connect work to one MAC or one signature verification and keeps
// the comparison constant-time.
//
// The key is chosen by the token's `kid` (or, without a kid, among the keys
// of the token's algorithm), and the token's `alg` must equal the key's
// algorithm: an HS* token is never checked with an RSA or EC public key used
// as an HMAC secret, and `alg: none` is never accepted.
#ifndef SWITCHBOARD_AUTH_JWT_VERIFIER_H
#define SWITCHBOARD_AUTH_JWT_VERIFIER_H

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace auth_jwt {

enum class Alg { HS256, HS384, HS512, RS256, RS384, RS512, ES256, ES384, ES512 };

std::optional<Alg> alg_from_name(std::string_view name);
const char* alg_name(Alg alg);
bool is_hmac(Alg alg);

// Why a token was refused. Each has a metric label (failure_label) and one of
// the three categories a client is told (failure_category).
enum class Failure {
    None,
    Missing,      // no token where tokens are accepted
    Malformed,    // not a compact JWS, undecodable, bad header
    Algorithm,    // alg not allowed, or not the algorithm of the key named by kid
    Key,          // no configured key for the kid / algorithm
    Signature,    // signature does not verify
    Expired,      // exp (+ leeway) has passed
    NotYetValid,  // nbf (- leeway) is still ahead
    Issuer,       // iss not accepted
    Audience,     // aud not accepted
    Claims,       // a required claim is missing or has the wrong type
};

const char* failure_label(Failure f);     // "missing", "signature", "expired", ...
const char* failure_category(Failure f);  // "missing token", "invalid token", "token expired"

// One verification key. Throws std::runtime_error from the factories when
// the key material does not suit the algorithm.
class Key {
public:
    static std::unique_ptr<Key> secret(Alg alg, std::string kid, const std::string& secret);
    static std::unique_ptr<Key> public_key(Alg alg, std::string kid, const std::string& pem);
    ~Key();
    Key(const Key&) = delete;
    Key& operator=(const Key&) = delete;

    Alg alg() const { return alg_; }
    const std::string& kid() const { return kid_; }
    bool verify(std::string_view signing_input, const std::string& signature) const;

private:
    Key(Alg alg, std::string kid) : alg_(alg), kid_(std::move(kid)) {}

    Alg alg_;
    std::string kid_;
    void* mac_ = nullptr;   // EVP_MAC_CTX* (HS*), initialised with the secret
    void* pkey_ = nullptr;  // EVP_PKEY* (RS*, ES*)
    size_t ec_half_ = 0;    // ES*: bytes of r and of s in the JWS signature
};

// What the claims must satisfy, and what to take from them.
struct Policy {
    std::vector<Alg> algorithms;           // accepted `alg` values
    uint64_t leeway_ms = 0;                // for exp and nbf
    std::vector<std::string> issuers;      // empty: iss not checked
    std::vector<std::string> audiences;    // empty: aud not checked
    std::vector<std::string> required_claims;
    std::string identity_claim = "sub";
    std::vector<std::string> expose_claims;
    std::string role_claim = "role";
};

struct Verdict {
    Failure failure = Failure::None;
    std::string detail;                 // for debug logs only, never for the client
    std::string user;
    std::string claims_json = "{}";     // the exposed claims, a JSON object
    std::vector<std::string> roles;
    std::optional<uint64_t> exp_ms;     // the token's exp, in ms since the epoch
    bool ok() const { return failure == Failure::None; }
};

class Verifier {
public:
    Verifier(Policy policy, std::vector<std::unique_ptr<Key>> keys);
    Verdict verify(std::string_view token, uint64_t now_ms) const;
    const Policy& policy() const { return policy_; }

private:
    Policy policy_;
    std::vector<std::unique_ptr<Key>> keys_;
};

// Strict base64url (RFC 7515: no padding, no whitespace).
std::optional<std::string> base64url_decode(std::string_view in);

}  // namespace auth_jwt

#endif
