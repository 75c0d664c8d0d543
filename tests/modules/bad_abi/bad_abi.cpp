// Test-only module "bad_abi": claims a future ABI major version, so the host
// must refuse to load it and say which versions disagree.
#include <switchboard/module.h>

namespace {
void* create(sb_module_ctx*, const sb_host_api*, const char*, sb_error*) { return nullptr; }

sb_module_descriptor make_descriptor() {
    sb_module_descriptor d{};
    d.struct_size = sizeof d;
    d.abi_major = SB_ABI_MAJOR + 98;
    d.name = "bad_abi";
    d.version = "1.0.0";
    d.create = create;
    return d;
}
const sb_module_descriptor kDescriptor = make_descriptor();
}  // namespace

extern "C" SB_MODULE_EXPORT const sb_module_descriptor* switchboard_module_entry(void) { return &kDescriptor; }
