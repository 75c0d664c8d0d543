// Small helpers the test-only modules share: JSON text of a RapidJSON value
// and answering a client's ack when it asked for one.
#pragma once

#include <switchboard/module.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>

namespace test_module {

inline std::string to_json(const rapidjson::Value& v) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    v.Accept(w);
    return std::string(buf.GetString(), buf.GetSize());
}

inline void ack(const sb_host_api* host, sb_module_ctx* ctx, sb_socket_id socket, const sb_event* ev,
                const std::string& args) {
    if (ev->ack_id >= 0) host->ack(ctx, socket, ev->ack_id, args.data(), args.size(), nullptr, 0);
}

}  // namespace test_module
