// Hex digits and URL percent-encoding, written once.
//
// The Engine.IO listener re-encodes a query it forwards to another node, the
// HTTP API re-encodes the query a module sees, and digests are printed as
// hex: each used to carry its own table of hex digits and its own loop.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sb {

// Appends the two hex digits of `byte` (upper case by default, as
// percent-encoding writes them).
void append_hex(std::string& out, unsigned char byte, bool upper = true);

// Lower-case hex of `bytes` (how digests are printed).
std::string to_hex(const unsigned char* bytes, size_t size);

// Lower-case hex digests (OpenSSL): module files are named by their
// SHA-256, Redis scripts by their SHA-1.
std::string sha256_hex(std::string_view bytes);
std::string sha1_hex(std::string_view bytes);

// Appends `s` with every byte but RFC 3986's unreserved ones
// (A-Z a-z 0-9 - _ . ~) written as %XX.
void percent_encode(std::string& out, std::string_view s);
std::string percent_encode(std::string_view s);

}  // namespace sb
