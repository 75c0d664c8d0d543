// Errors that end start-up, kept apart from the server so that the lower
// layers which detect them (binding a listener, opening storage) need not
// include the server that reports them.
#pragma once

#include <stdexcept>

namespace sb {

// The server cannot start: the message says what to fix.
class StartupError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace sb
