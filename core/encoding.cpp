// Hex digits and URL percent-encoding (see encoding.h).
#include "encoding.h"

#include <openssl/evp.h>

#include <cctype>

namespace sb {

void append_hex(std::string& out, unsigned char byte, bool upper) {
    const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    out.push_back(digits[byte >> 4]);
    out.push_back(digits[byte & 15]);
}

std::string to_hex(const unsigned char* bytes, size_t size) {
    std::string out;
    out.reserve(size * 2);
    for (size_t i = 0; i < size; i++) append_hex(out, bytes[i], false);
    return out;
}

namespace {

std::string digest_hex(std::string_view bytes, const EVP_MD* md) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(bytes.data(), bytes.size(), digest, &len, md, nullptr);
    return to_hex(digest, len);
}

}  // namespace

std::string sha256_hex(std::string_view bytes) { return digest_hex(bytes, EVP_sha256()); }
std::string sha1_hex(std::string_view bytes) { return digest_hex(bytes, EVP_sha1()); }

void percent_encode(std::string& out, std::string_view s) {
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
            out.push_back(c);
        } else {
            out.push_back('%');
            append_hex(out, u);
        }
    }
}

std::string percent_encode(std::string_view s) {
    std::string out;
    percent_encode(out, s);
    return out;
}

}  // namespace sb
