// Example module in C++ with <switchboard/module.hpp>: "greet" acks a
// greeting and remembers each socket's name until it disconnects.
//
//   c++ -std=c++20 -shared -fPIC $(pkg-config --cflags switchboard-module) greeter.cpp -o greeter.so
//
// Events: "greet" name (ack) -> ack("hi <name>"), stores the name;
//         "whoami" (ack)     -> ack(<stored name>) or refusal NOT_FOUND.
#include <switchboard/module.hpp>

#include <map>
#include <string>

class Greeter {
public:
    static constexpr sb_config_key config_keys[] = {
        {"prefix", SB_CONFIG_STRING, 0, "what to say before the name"},
    };

    Greeter(sb::Host host, std::string_view config_json) : host_(host) {
        // The host validated the keys; pick out the one we declared.
        const std::string config(config_json);
        const std::string key = "\"prefix\":\"";
        if (auto at = config.find(key); at != std::string::npos)
            prefix_ = config.substr(at + key.size(), config.find('"', at + key.size()) - at - key.size());
    }

    bool on_event(sb_socket_id socket, const sb_event& event) {
        const std::string name = event.name;
        if (name == "greet") {
            const std::string args(event.args_json, event.args_json_len);
            if (args.size() < 4 || args.front() != '[' || args[1] != '"') throw sb::Refusal("greet takes a name", "INVALID");
            std::string who = args.substr(2, args.find('"', 2) - 2);
            names_[socket] = who;
            host_.ack(socket, event.ack_id, "[" + sb::json_string(prefix_ + " " + who) + "]");
            return true;
        }
        if (name == "whoami") {
            auto it = names_.find(socket);
            if (it == names_.end()) throw sb::Refusal("greet first", "NOT_FOUND");
            host_.ack(socket, event.ack_id, "[" + sb::json_string(it->second) + "]");
            return true;
        }
        return false;
    }

    void on_disconnect(sb_socket_id socket, std::string_view) { names_.erase(socket); }

private:
    sb::Host host_;
    std::string prefix_ = "hi";
    std::map<sb_socket_id, std::string> names_;
};

SWITCHBOARD_MODULE(Greeter, "greeter", "1.0.0")
