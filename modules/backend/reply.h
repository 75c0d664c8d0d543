// What a backend answered to an RPC or a connect, checked against the
// contract before anything of it is applied. RPC: {result} or
// {error:{code,message}}, and an optional list of actions. Connect:
// {allow:true, userId?, claims?, rooms?, data?} or {allow:false, message}.
// A body that is not the contract is refused as a whole (no action of it
// runs), so a half-broken answer never half-applies.
#ifndef SWITCHBOARD_BACKEND_REPLY_H
#define SWITCHBOARD_BACKEND_REPLY_H

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace backend {

struct EmitAction {
    std::vector<std::string> rooms;
    std::vector<std::string> users;
    std::optional<std::string> socket;  // a Socket.IO socket id
    std::string event;
    std::string args_json = "[]";
};

struct DataEntry {
    std::string key;
    std::optional<std::string> value;  // nullopt: unset
    bool is_json = false;              // the value is JSON text (not a string)
};

struct Action {
    enum class Kind { join, leave, emit, data, disconnect } kind;
    std::string room;
    EmitAction emit;
    std::vector<DataEntry> data;
};

struct Reply {
    bool ok = true;
    std::string result_json = "null";
    std::string error_code;  // an uppercase identifier, else INTERNAL
    std::string error_message;
    std::vector<Action> actions;
};

// The reply in `body`, or nullopt with `why` saying how it breaks the contract.
std::optional<Reply> parse_reply(std::string_view body, std::string& why);

struct ConnectReply {
    bool allow = false;
    std::string message;                     // allow:false only; may be empty
    std::optional<std::string> user_id;      // absent: keep the socket's
    std::optional<std::string> claims_json;  // a JSON object; absent: keep the socket's
    std::vector<std::string> rooms;
    std::vector<DataEntry> data;
};

// The connect answer in `body`, or nullopt with `why`.
std::optional<ConnectReply> parse_connect_reply(std::string_view body, std::string& why);

}  // namespace backend

#endif
