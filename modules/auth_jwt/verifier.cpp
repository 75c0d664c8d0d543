// Token verification for the auth_jwt module (see verifier.h).
#include "verifier.h"

#include <jwt.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

namespace auth_jwt {
namespace {

// Tokens longer than this are refused before any parsing.
constexpr size_t kMaxTokenBytes = 16 * 1024;

struct AlgInfo {
    Alg alg;
    const char* name;
    const char* digest;
};

constexpr AlgInfo kAlgs[] = {
    {Alg::HS256, "HS256", "SHA256"}, {Alg::HS384, "HS384", "SHA384"}, {Alg::HS512, "HS512", "SHA512"},
    {Alg::RS256, "RS256", "SHA256"}, {Alg::RS384, "RS384", "SHA384"}, {Alg::RS512, "RS512", "SHA512"},
    {Alg::ES256, "ES256", "SHA256"}, {Alg::ES384, "ES384", "SHA384"}, {Alg::ES512, "ES512", "SHA512"},
};

const AlgInfo& info(Alg alg) {
    for (const auto& a : kAlgs)
        if (a.alg == alg) return a;
    return kAlgs[0];
}

bool is_ec(Alg alg) { return alg == Alg::ES256 || alg == Alg::ES384 || alg == Alg::ES512; }

// OpenSSL keeps errors in a per-thread queue that the server's TLS code
// reads too: never leave ours behind.
std::runtime_error openssl_failure(const std::string& what) {
    ERR_clear_error();
    return std::runtime_error(what);
}

struct FreeDeleter {
    void operator()(char* p) const { std::free(p); }
};
using CString = std::unique_ptr<char, FreeDeleter>;

struct JwtDeleter {
    void operator()(jwt_t* j) const { jwt_free(j); }
};

// A NumericDate (seconds, possibly fractional) as milliseconds, clamped.
uint64_t to_ms(double seconds) {
    const double ms = std::floor(seconds * 1000.0);
    if (!(ms > 0)) return 0;
    if (ms >= 9.0e18) return 9'000'000'000'000'000'000ull;
    return static_cast<uint64_t>(ms);
}

bool contains(const std::vector<std::string>& list, std::string_view s) {
    return std::find(list.begin(), list.end(), s) != list.end();
}

EVP_PKEY* read_public_key(const std::string& pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    if (!bio) return nullptr;
    EVP_PKEY* key = nullptr;
    if (pem.find("-----BEGIN CERTIFICATE-----") != std::string::npos) {
        if (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
            key = X509_get_pubkey(cert);
            X509_free(cert);
        }
    } else {
        key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
    }
    BIO_free(bio);
    return key;
}

// A JWS ECDSA signature is r || s, fixed width; OpenSSL verifies DER.
std::optional<std::string> ecdsa_der(const std::string& raw, size_t half) {
    if (raw.size() != 2 * half) return std::nullopt;
    const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
    ECDSA_SIG* sig = ECDSA_SIG_new();
    BIGNUM* r = BN_bin2bn(p, static_cast<int>(half), nullptr);
    BIGNUM* s = BN_bin2bn(p + half, static_cast<int>(half), nullptr);
    if (!sig || !r || !s || ECDSA_SIG_set0(sig, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(sig);
        ERR_clear_error();
        return std::nullopt;
    }
    unsigned char* der = nullptr;
    const int len = i2d_ECDSA_SIG(sig, &der);
    ECDSA_SIG_free(sig);
    if (len <= 0) {
        ERR_clear_error();
        return std::nullopt;
    }
    std::string out(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
    OPENSSL_free(der);
    return out;
}

}  // namespace

std::optional<Alg> alg_from_name(std::string_view name) {
    for (const auto& a : kAlgs)
        if (name == a.name) return a.alg;
    return std::nullopt;
}

const char* alg_name(Alg alg) { return info(alg).name; }

bool is_hmac(Alg alg) { return alg == Alg::HS256 || alg == Alg::HS384 || alg == Alg::HS512; }

const char* failure_label(Failure f) {
    switch (f) {
        case Failure::None: return "none";
        case Failure::Missing: return "missing";
        case Failure::Malformed: return "malformed";
        case Failure::Algorithm: return "algorithm";
        case Failure::Key: return "unknown_key";
        case Failure::Signature: return "signature";
        case Failure::Expired: return "expired";
        case Failure::NotYetValid: return "not_yet_valid";
        case Failure::Issuer: return "issuer";
        case Failure::Audience: return "audience";
        case Failure::Claims: return "claims";
    }
    return "invalid";
}

const char* failure_category(Failure f) {
    switch (f) {
        case Failure::Missing: return "missing token";
        case Failure::Expired: return "token expired";
        default: return "invalid token";
    }
}

std::optional<std::string> base64url_decode(std::string_view in) {
    static constexpr auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '-') return 62;
        if (c == '_') return 63;
        return -1;
    };
    if (in.size() % 4 == 1) return std::nullopt;
    std::string out;
    out.reserve(in.size() * 3 / 4);
    uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        const int v = value(c);
        if (v < 0) return std::nullopt;
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xff));
        }
    }
    // Leftover bits must be zero (canonical encoding).
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
    return out;
}

// ---- keys ----------------------------------------------------------------

std::unique_ptr<Key> Key::secret(Alg alg, std::string kid, const std::string& secret) {
    if (!is_hmac(alg)) throw std::runtime_error(std::string("a secret is for HS* algorithms, not ") + alg_name(alg));
    // RFC 7518 3.2: the key must be at least as long as the hash output.
    const size_t minimum = alg == Alg::HS256 ? 32 : alg == Alg::HS384 ? 48 : 64;
    if (secret.size() < minimum)
        throw std::runtime_error(std::string("the secret for ") + alg_name(alg) + " must be at least " +
                                 std::to_string(minimum) + " bytes (RFC 7518), it has " +
                                 std::to_string(secret.size()));
    std::unique_ptr<Key> key(new Key(alg, std::move(kid)));
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (!mac) throw openssl_failure("OpenSSL offers no HMAC");
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);  // the context keeps its own reference
    if (!ctx) throw openssl_failure("cannot create an HMAC context");
    key->mac_ = ctx;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(info(alg).digest), 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), params) != 1)
        throw openssl_failure("cannot initialise HMAC with this secret");
    return key;
}

std::unique_ptr<Key> Key::public_key(Alg alg, std::string kid, const std::string& pem) {
    if (is_hmac(alg)) throw std::runtime_error(std::string(alg_name(alg)) + " needs a secret, not a public key");
    EVP_PKEY* pkey = read_public_key(pem);
    if (!pkey)
        throw openssl_failure(
            "not a PEM public key (-----BEGIN PUBLIC KEY-----) or certificate (-----BEGIN CERTIFICATE-----)");
    std::unique_ptr<Key> key(new Key(alg, std::move(kid)));
    key->pkey_ = pkey;
    const int bits = EVP_PKEY_get_bits(pkey);
    if (is_ec(alg)) {
        const char* curve = alg == Alg::ES256 ? "prime256v1" : alg == Alg::ES384 ? "secp384r1" : "secp521r1";
        const char* curve_name = alg == Alg::ES256 ? "P-256" : alg == Alg::ES384 ? "P-384" : "P-521";
        char group[64] = {0};
        size_t len = 0;
        if (!EVP_PKEY_is_a(pkey, "EC") || EVP_PKEY_get_group_name(pkey, group, sizeof group, &len) != 1 ||
            std::string_view(group) != curve)
            throw openssl_failure(std::string(alg_name(alg)) + " needs an EC public key on curve " + curve_name);
        key->ec_half_ = static_cast<size_t>((bits + 7) / 8);
    } else {
        if (!EVP_PKEY_is_a(pkey, "RSA"))
            throw openssl_failure(std::string(alg_name(alg)) + " needs an RSA public key");
        if (bits < 2048)
            throw std::runtime_error("RSA keys shorter than 2048 bits are refused (this one has " +
                                     std::to_string(bits) + ")");
    }
    return key;
}

Key::~Key() {
    if (mac_) EVP_MAC_CTX_free(static_cast<EVP_MAC_CTX*>(mac_));
    if (pkey_) EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey_));
}

bool Key::verify(std::string_view signing_input, const std::string& signature) const {
    const auto* data = reinterpret_cast<const unsigned char*>(signing_input.data());
    if (mac_) {
        EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(static_cast<EVP_MAC_CTX*>(mac_));
        if (!ctx) {
            ERR_clear_error();
            return false;
        }
        unsigned char out[EVP_MAX_MD_SIZE];
        size_t out_len = 0;
        const bool computed = EVP_MAC_update(ctx, data, signing_input.size()) == 1 &&
                              EVP_MAC_final(ctx, out, &out_len, sizeof out) == 1;
        EVP_MAC_CTX_free(ctx);
        if (!computed) {
            ERR_clear_error();
            return false;
        }
        return out_len == signature.size() && CRYPTO_memcmp(out, signature.data(), out_len) == 0;
    }
    std::string der;
    const std::string* sig = &signature;
    if (is_ec(alg_)) {
        auto converted = ecdsa_der(signature, ec_half_);
        if (!converted) return false;
        der = std::move(*converted);
        sig = &der;
    }
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (!ctx) {
        ERR_clear_error();
        return false;
    }
    const bool ok = EVP_DigestVerifyInit_ex(ctx, nullptr, info(alg_).digest, nullptr, nullptr,
                                            static_cast<EVP_PKEY*>(pkey_), nullptr) == 1 &&
                    EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig->data()), sig->size(), data,
                                     signing_input.size()) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) ERR_clear_error();
    return ok;
}

// ---- verification -------------------------------------------------------------

Verifier::Verifier(Policy policy, std::vector<std::unique_ptr<Key>> keys)
    : policy_(std::move(policy)), keys_(std::move(keys)) {}

Verdict Verifier::verify(std::string_view token, uint64_t now_ms) const {
    Verdict v;
    auto fail = [&v](Failure f, std::string detail) {
        v.failure = f;
        v.detail = std::move(detail);
        return v;
    };

    // Structure: header.payload.signature, base64url characters only.
    if (token.size() > kMaxTokenBytes) return fail(Failure::Malformed, "longer than 16384 bytes");
    for (char ch : token) {
        const bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                        ch == '-' || ch == '_' || ch == '.';
        if (!ok) return fail(Failure::Malformed, "characters outside base64url");
    }
    const size_t d1 = token.find('.');
    const size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
    if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
        return fail(Failure::Malformed, "not three dot-separated parts");
    if (d1 == 0 || d2 == d1 + 1) return fail(Failure::Malformed, "empty header or payload");
    const std::string_view signing_input = token.substr(0, d2);
    const std::string_view signature_b64 = token.substr(d2 + 1);

    // libjwt decodes header and claims; without a key it checks no signature.
    const std::string text(token);
    jwt_t* raw = nullptr;
    if (jwt_decode(&raw, text.c_str(), nullptr, 0) != 0 || !raw)
        return fail(Failure::Malformed, "header or payload is not base64url JSON");
    std::unique_ptr<jwt_t, JwtDeleter> jwt(raw);

    rapidjson::Document header;
    {
        CString json(jwt_get_headers_json(raw, nullptr));
        if (json) header.Parse(json.get());
        if (!json || header.HasParseError() || !header.IsObject()) return fail(Failure::Malformed, "header is not an object");
    }
    auto alg_it = header.FindMember("alg");
    if (alg_it == header.MemberEnd() || !alg_it->value.IsString()) return fail(Failure::Malformed, "no alg");
    const std::string alg_text = alg_it->value.GetString();
    const auto alg = alg_from_name(alg_text);
    if (!alg || std::find(policy_.algorithms.begin(), policy_.algorithms.end(), *alg) == policy_.algorithms.end())
        return fail(Failure::Algorithm, "alg '" + alg_text + "' is not accepted");
    if (header.HasMember("crit")) return fail(Failure::Malformed, "crit header extensions are not supported");
    std::optional<std::string> kid;
    if (auto it = header.FindMember("kid"); it != header.MemberEnd()) {
        if (!it->value.IsString()) return fail(Failure::Malformed, "kid is not a string");
        kid = it->value.GetString();
    }

    // The key: by kid, and then its algorithm must be the token's.
    std::vector<const Key*> candidates;
    if (kid) {
        auto it = std::find_if(keys_.begin(), keys_.end(), [&](const auto& k) { return k->kid() == *kid; });
        if (it == keys_.end()) return fail(Failure::Key, "no key with kid '" + *kid + "'");
        if ((*it)->alg() != *alg)
            return fail(Failure::Algorithm, "key '" + *kid + "' is for " + alg_name((*it)->alg()) + ", the token says " +
                                                alg_text);
        candidates.push_back(it->get());
    } else {
        for (const auto& k : keys_)
            if (k->alg() == *alg) candidates.push_back(k.get());
        if (candidates.empty()) return fail(Failure::Key, std::string("no key for ") + alg_text);
    }
    const auto signature = base64url_decode(signature_b64);
    if (!signature || signature->empty()) return fail(Failure::Malformed, "signature is not base64url");
    const bool verified = std::any_of(candidates.begin(), candidates.end(),
                                      [&](const Key* k) { return k->verify(signing_input, *signature); });
    if (!verified)
        return fail(Failure::Signature, std::string("signature does not verify (") + alg_text +
                                            (kid ? ", kid '" + *kid + "')" : std::string(")")));

    // Claims.
    rapidjson::Document claims;
    {
        CString json(jwt_get_grants_json(raw, nullptr));
        if (json) claims.Parse(json.get());
        if (!json || claims.HasParseError() || !claims.IsObject()) return fail(Failure::Malformed, "payload is not an object");
    }
    const uint64_t leeway = policy_.leeway_ms;
    if (auto it = claims.FindMember("exp"); it != claims.MemberEnd() && !it->value.IsNull()) {
        if (!it->value.IsNumber()) return fail(Failure::Claims, "exp is not a number");
        v.exp_ms = to_ms(it->value.GetDouble());
        if (now_ms >= *v.exp_ms + leeway)
            return fail(Failure::Expired, "expired " + std::to_string(now_ms - *v.exp_ms) + " ms ago");
    }
    if (auto it = claims.FindMember("nbf"); it != claims.MemberEnd() && !it->value.IsNull()) {
        if (!it->value.IsNumber()) return fail(Failure::Claims, "nbf is not a number");
        const uint64_t nbf = to_ms(it->value.GetDouble());
        if (now_ms + leeway < nbf) return fail(Failure::NotYetValid, "valid in " + std::to_string(nbf - now_ms) + " ms");
    }
    if (!policy_.issuers.empty()) {
        auto it = claims.FindMember("iss");
        if (it == claims.MemberEnd() || !it->value.IsString() || !contains(policy_.issuers, it->value.GetString()))
            return fail(Failure::Issuer, "issuer not accepted");
    }
    if (!policy_.audiences.empty()) {
        bool accepted = false;
        if (auto it = claims.FindMember("aud"); it != claims.MemberEnd()) {
            if (it->value.IsString()) {
                accepted = contains(policy_.audiences, it->value.GetString());
            } else if (it->value.IsArray()) {
                for (const auto& a : it->value.GetArray())
                    if (a.IsString() && contains(policy_.audiences, a.GetString())) accepted = true;
            }
        }
        if (!accepted) return fail(Failure::Audience, "audience not accepted");
    }
    for (const auto& name : policy_.required_claims) {
        auto it = claims.FindMember(name.c_str());
        if (it == claims.MemberEnd() || it->value.IsNull()) return fail(Failure::Claims, "missing claim '" + name + "'");
    }

    // Identity, roles and the claims other modules see.
    auto id = claims.FindMember(policy_.identity_claim.c_str());
    if (id == claims.MemberEnd()) return fail(Failure::Claims, "missing identity claim '" + policy_.identity_claim + "'");
    if (id->value.IsString() && id->value.GetStringLength() > 0) {
        v.user.assign(id->value.GetString(), id->value.GetStringLength());
    } else if (id->value.IsInt64()) {
        v.user = std::to_string(id->value.GetInt64());
    } else if (id->value.IsUint64()) {
        v.user = std::to_string(id->value.GetUint64());
    } else {
        return fail(Failure::Claims, "identity claim '" + policy_.identity_claim + "' is not a non-empty string");
    }
    if (auto it = claims.FindMember(policy_.role_claim.c_str()); it != claims.MemberEnd()) {
        if (it->value.IsString()) {
            v.roles.emplace_back(it->value.GetString(), it->value.GetStringLength());
        } else if (it->value.IsArray()) {
            for (const auto& r : it->value.GetArray())
                if (r.IsString()) v.roles.emplace_back(r.GetString(), r.GetStringLength());
        }
    }
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.StartObject();
    for (const auto& name : policy_.expose_claims) {
        auto it = claims.FindMember(name.c_str());
        if (it == claims.MemberEnd()) continue;
        w.Key(name.c_str(), static_cast<rapidjson::SizeType>(name.size()));
        it->value.Accept(w);
    }
    w.EndObject();
    v.claims_json.assign(buf.GetString(), buf.GetSize());
    return v;
}

}  // namespace auth_jwt
