// Small libwebsockets helpers shared by the Socket.IO listener and the HTTP
// API listener, so both bind addresses and read headers the same way.
#pragma once

#include "config.h"

#include <libwebsockets.h>

#include <string>

namespace sb {

// Creates a vhost listening on `l`. `vi` carries what differs per listener
// (protocols, name, user, timeouts); the address, port, IPv6 and TLS fields
// are filled here. Throws StartupError naming `what` and the address.
// Returns the URL it listens on, with the port actually bound.
std::string create_listening_vhost(lws_context* context, const ListenConfig& l, lws_context_creation_info& vi,
                                   const std::string& what);

// One request header (empty when absent).
std::string read_header(lws* wsi, lws_token_indexes token);

}  // namespace sb
