// JSON text helpers (see json.h).
#include "json.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace sb {

std::string json_quote(std::string_view s) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace sb
