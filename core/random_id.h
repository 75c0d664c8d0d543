// Unguessable identifiers for Engine.IO sessions and Socket.IO sockets.
//
// A polling session is addressed only by its sid, so a guessable sid would
// let anyone read another user's traffic. Ids are 15 bytes from the kernel's
// CSPRNG, base64url-encoded to 20 characters as in the reference server;
// random bytes are fetched in blocks so a connection storm costs one
// getrandom() call per few hundred ids.
#pragma once

#include <string>

namespace sb {

std::string random_id();

}  // namespace sb
