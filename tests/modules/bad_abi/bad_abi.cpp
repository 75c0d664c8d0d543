// Test-only module "bad_abi": claims a future ABI major version, so the host
// must refuse to load it and say which versions disagree.
#include <switchboard/module.h>

namespace {
void* create(sb_module_ctx*, const sb_host_api*, const char*, sb_error*) { return nullptr; }

const sb_module_descriptor kDescriptor = {
    sizeof(sb_module_descriptor), SB_ABI_MAJOR + 98, 0, "bad_abi", "1.0.0", 0, create, nullptr,
    nullptr, nullptr, nullptr, nullptr,
};
}  // namespace

extern "C" SB_MODULE_EXPORT const sb_module_descriptor* switchboard_module_entry(void) { return &kDescriptor; }
