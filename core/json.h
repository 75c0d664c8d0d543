// JSON text helpers every layer needs (error bodies of the Engine.IO server,
// Socket.IO packets, the HTTP API), kept here so that none of them includes
// another layer's codec just to quote a string.
#pragma once

#include <string>
#include <string_view>

namespace sb {

// JSON string literal (with quotes) for `s`.
std::string json_quote(std::string_view s);

}  // namespace sb
