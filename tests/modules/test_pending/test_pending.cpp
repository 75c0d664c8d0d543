// Test-only module "test_pending": leaves connects pending (ABI 1.3
// SB_CONNECT_PENDING) and lets other clients decide them, so that the
// end-to-end tests drive the host's pending-connect path without an HTTP
// backend in between.
//   on connect with auth {"pending": true}  -> pending, until decided; the
//                                              namespace gets "pending" sid
//   any other CONNECT payload               -> accepted
//   "decide" sid accept message ack         -> connect_decide; acks the sb_status (0 = SB_OK)
//   "kick" sid ack                          -> disconnect of that socket; acks the sb_status
//   "offers" sid ack                        -> how many times this instance was asked about sid
//   "ended" ack                             -> ["<sid>:<reason>", ...]: on_disconnect calls so far
// No state handover: a reload that replaces it offers pending connects to
// the new instance again. Config: {tag?} (changing it makes a reload
// replace the instance).
#include <switchboard/module.hpp>

#include <rapidjson/document.h>

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace {

class TestPending {
public:
    static constexpr sb_config_key config_keys[] = {{"tag", SB_CONFIG_STRING, 0, "any text"}};

    TestPending(sb::Host host, std::string_view) : host_(host) {
        if (!host_.has_connect_decide()) throw std::runtime_error("needs ABI 1.3 pending connects");
    }

    sb::Verdict on_connect(sb_socket_id socket, const sb_connect_info& info) {
        const std::string sid = info.socket_sid ? info.socket_sid : "";
        by_sid_[sid] = socket;
        sid_of_[socket] = sid;
        ++offers_[sid];
        rapidjson::Document auth;
        auth.Parse(info.auth_json ? info.auth_json : "{}");
        const bool pending = !auth.HasParseError() && auth.IsObject() && auth.HasMember("pending") &&
                             auth["pending"].IsBool() && auth["pending"].GetBool();
        if (!pending) return sb::Verdict::pass();
        // Tells the namespace's connected clients (the tests' controller)
        // which socket waits.
        host_.broadcast(info.namespace_name ? info.namespace_name : "/", {}, "pending", "[" + sb::json_string(sid) + "]");
        return sb::Verdict::pending();
    }

    void on_disconnect(sb_socket_id socket, std::string_view reason) {
        auto it = sid_of_.find(socket);
        ended_.push_back((it == sid_of_.end() ? std::string("?") : it->second) + ":" + std::string(reason));
    }

    bool on_event(sb_socket_id socket, const sb_event& ev) {
        const std::string_view name = ev.name;
        if (name != "decide" && name != "kick" && name != "offers" && name != "ended") return false;
        rapidjson::Document args;
        args.Parse(ev.args_json, ev.args_json_len);
        auto text = [&](rapidjson::SizeType i) {
            return args.IsArray() && args.Size() > i && args[i].IsString() ? std::string(args[i].GetString()) : std::string();
        };
        auto target = [&] {
            auto it = by_sid_.find(text(0));
            return it == by_sid_.end() ? sb_socket_id{0} : it->second;
        };
        std::string answer;
        if (name == "decide") {
            const bool accept = args.IsArray() && args.Size() > 1 && args[1].IsBool() && args[1].GetBool();
            answer = std::to_string(host_.connect_decide(target(), accept, text(2)));
        } else if (name == "kick") {
            answer = std::to_string(host_.disconnect(target()));
        } else if (name == "offers") {
            answer = std::to_string(offers_[text(0)]);
        } else {
            answer = "[";
            for (size_t i = 0; i < ended_.size(); ++i) answer += (i ? "," : "") + sb::json_string(ended_[i]);
            answer += "]";
        }
        if (ev.ack_id >= 0) host_.ack(socket, ev.ack_id, "[" + answer + "]");
        return true;
    }

private:
    sb::Host host_;
    std::unordered_map<std::string, sb_socket_id> by_sid_;
    std::unordered_map<sb_socket_id, std::string> sid_of_;
    std::unordered_map<std::string, int> offers_;
    std::vector<std::string> ended_;
};

}  // namespace

SWITCHBOARD_MODULE(TestPending, "test_pending", "1.0.0")
