// HMAC-SHA256 request signatures through libcrypto (see signature.h).
#include "signature.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

namespace backend {

std::string signature_value(std::string_view secret, uint64_t unix_seconds, std::string_view body) {
    const std::string t = std::to_string(unix_seconds);
    std::string signed_text;
    signed_text.reserve(t.size() + 1 + body.size());
    signed_text.append(t).append(".").append(body);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
              reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size(), mac, &mac_len))
        throw std::runtime_error("HMAC-SHA256 failed");
    static const char* hex = "0123456789abcdef";
    std::string out = "t=" + t + ",v1=";
    for (unsigned int i = 0; i < mac_len; ++i) {
        out += hex[mac[i] >> 4];
        out += hex[mac[i] & 15];
    }
    return out;
}

}  // namespace backend
