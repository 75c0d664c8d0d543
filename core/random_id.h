// Unguessable identifiers for Engine.IO sessions and Socket.IO sockets.
//
// A polling session is addressed only by its sid, so a guessable sid would
// let anyone read another user's traffic. Ids are 90 bits from the kernel's
// CSPRNG as 15 base64url characters: unguessable, and short enough to fit
// std::string's inline storage, which saves two heap blocks per client.
// Random bytes are fetched in blocks so a connection storm costs one
// getrandom() call per few hundred ids.
#pragma once

#include <string>

namespace sb {

std::string random_id();

}  // namespace sb
