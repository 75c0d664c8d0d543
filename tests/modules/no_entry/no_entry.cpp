// Test-only module "no_entry": a shared object without the entry symbol, so
// the host must refuse it as "not a Switchboard module".
#include <switchboard/module.h>

extern "C" SB_MODULE_EXPORT int some_other_function(void) { return 42; }
