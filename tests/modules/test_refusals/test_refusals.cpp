// Test-only module "test_refusals": every way <switchboard/module.hpp> lets
// a hook refuse, so end-to-end tests can check what a client gets for each.
// Built twice from this source: test_refusals_thrown (hooks throw
// sb::Refusal) and test_refusals_returned (hooks return sb::Verdict); both
// must answer clients identically.
//   a handshake whose query has refuse=1 -> HTTP 451, {"code":4,"message":"handshake refused by test_refusals"}
//   a connect with auth {"refuse": true} -> CONNECT_ERROR "connect refused by test_refusals"
//   "refuse"       -> refused: code NOPE, details {"hint":"later","attempt":3}
//   "refuse_big"   -> refused: code NOPE, details over the host's 256 bytes (left out)
//   "handle" (ack) -> acks ["handled"] and stops the chain
//   "fail"         -> a failure (std::runtime_error): INTERNAL
//   anything else  -> the next module of the chain
#include <switchboard/module.hpp>

#include <stdexcept>
#include <string>
#include <string_view>

#ifndef REFUSE_BY_THROWING
#error "build with -DREFUSE_BY_THROWING=0 or 1"
#endif

#if REFUSE_BY_THROWING
using Admission = void;
using EventOutcome = bool;
#define REFUSE(refusal) throw refusal
#define ADMIT return
#define PASS_EVENT return false
#define HANDLED_EVENT return true
#else
using Admission = sb::Verdict;
using EventOutcome = sb::Verdict;
#define REFUSE(refusal) return refusal
#define ADMIT return sb::Verdict::pass()
#define PASS_EVENT return sb::Verdict::pass()
#define HANDLED_EVENT return sb::Verdict::handled()
#endif

class TestRefusals {
public:
    TestRefusals(sb::Host host, std::string_view) : host_(host) {}

    Admission on_handshake(const sb_handshake_info& info) {
        const std::string query = info.query ? info.query : "";
        if (query.find("refuse=1") != std::string::npos)
            REFUSE(sb::Refusal("handshake refused by test_refusals", "NOPE").with_status(451));
        ADMIT;
    }

    Admission on_connect(sb_socket_id, const sb_connect_info& info) {
        if (std::string_view(info.auth_json).find("\"refuse\":true") != std::string_view::npos)
            REFUSE(sb::Refusal("connect refused by test_refusals", "NOPE"));
        ADMIT;
    }

    EventOutcome on_event(sb_socket_id socket, const sb_event& ev) {
        const std::string_view name = ev.name;
        if (name == "refuse") REFUSE(sb::Refusal("refused by test_refusals", "NOPE", R"({"hint":"later","attempt":3})"));
        if (name == "refuse_big")
            REFUSE(sb::Refusal("refused by test_refusals", "NOPE", "{\"padding\":\"" + std::string(300, 'x') + "\"}"));
        if (name == "fail") throw std::runtime_error("test_refusals failed on purpose");
        if (name == "handle") {
            host_.ack(socket, ev.ack_id, "[\"handled\"]");
            HANDLED_EVENT;
        }
        PASS_EVENT;
    }

private:
    sb::Host host_;
};

#if REFUSE_BY_THROWING
SWITCHBOARD_MODULE(TestRefusals, "test_refusals_thrown", "1.0.0")
#else
SWITCHBOARD_MODULE(TestRefusals, "test_refusals_returned", "1.0.0")
#endif
