// The hook dispatcher: hooks read only as far as a module's descriptor
// reaches (modules built against an older ABI minor have shorter
// descriptors), what each answer counts, and the dispatched args marker.
#include "hook_dispatcher.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <string>

namespace {

int rooms_heard = 0;
int https_heard = 0;
sb_event_result next_result = SB_EVENT_CONTINUE;

void on_room(void*, sb_socket_id, const char*, int) { ++rooms_heard; }
void on_http(void*, const sb_http_request*, sb_http_response*) { ++https_heard; }
sb_event_result on_event(void*, sb_socket_id, const sb_event*, sb_error*) { return next_result; }
sb_connect_result next_connect = SB_CONNECT_REJECT;
sb_connect_result on_connect(void*, sb_socket_id, const sb_connect_info*, sb_error*) { return next_connect; }

sb_module_descriptor full_descriptor() {
    sb_module_descriptor d{};
    d.struct_size = sizeof(sb_module_descriptor);
    d.abi_major = SB_ABI_MAJOR;
    d.abi_minor = SB_ABI_MINOR;
    d.on_event = on_event;
    d.on_connect = on_connect;
    d.on_room = on_room;
    d.on_http = on_http;
    return d;
}

class HookDispatcherTest : public ::testing::Test {
protected:
    void SetUp() override {
        rooms_heard = 0;
        https_heard = 0;
        next_result = SB_EVENT_CONTINUE;
        next_connect = SB_CONNECT_REJECT;
    }
    sb::HookDispatcher hooks;
};

TEST_F(HookDispatcherTest, ReadsHooksOnlyAsFarAsTheDescriptorReaches) {
    sb_module_descriptor d = full_descriptor();
    // A module of ABI 1.0: its descriptor ends before on_http; what lies
    // beyond is not its own and must never be called.
    d.struct_size = offsetof(sb_module_descriptor, on_http);
    sb::ModuleInstance m;
    m.hooks = sb::HookDispatcher::resolve(d);
    EXPECT_FALSE(m.hooks.has_http());
    EXPECT_TRUE(m.hooks.has_event());
    hooks.http(m, sb_http_request{}, nullptr);
    EXPECT_EQ(https_heard, 0);
    hooks.room({&m}, 1, "lobby", true);
    EXPECT_EQ(rooms_heard, 1);  // on_room is within ABI 1.0

    d.struct_size = offsetof(sb_module_descriptor, on_room);
    m.hooks = sb::HookDispatcher::resolve(d);
    hooks.room({&m}, 1, "lobby", true);
    EXPECT_EQ(rooms_heard, 1);

    d.struct_size = sizeof(sb_module_descriptor);
    m.hooks = sb::HookDispatcher::resolve(d);
    EXPECT_TRUE(m.hooks.has_http());
    hooks.http(m, sb_http_request{}, nullptr);
    EXPECT_EQ(https_heard, 1);
    EXPECT_EQ(m.events_total, 1u);
}

TEST_F(HookDispatcherTest, CountsWhatEachEventAnswerMeans) {
    const sb_module_descriptor d = full_descriptor();
    sb::ModuleInstance m;
    m.hooks = sb::HookDispatcher::resolve(d);
    const sb_event ev{sizeof(sb_event), "/", "chat", "[]", 2, nullptr, 0, -1};
    for (sb_event_result r : {SB_EVENT_CONTINUE, SB_EVENT_HANDLED, SB_EVENT_HANDLED, SB_EVENT_REJECT, SB_EVENT_FAILED}) {
        next_result = r;
        sb::ErrorBuffer err;
        EXPECT_EQ(hooks.event(m, 1, ev, &err.error), r);
    }
    EXPECT_EQ(m.events_total, 2u);
    EXPECT_EQ(m.rejects_total, 1u);
    EXPECT_EQ(m.errors_total, 1u);

    sb::ErrorBuffer err;
    const sb_connect_info info{};
    EXPECT_EQ(hooks.connect(m, 1, info, &err.error), SB_CONNECT_REJECT);
    EXPECT_EQ(m.rejects_total, 2u);
    // A connect left pending (ABI 1.3) is not a rejection, whatever comes of it.
    next_connect = SB_CONNECT_PENDING;
    EXPECT_EQ(hooks.connect(m, 2, info, &err.error), SB_CONNECT_PENDING);
    next_connect = SB_CONNECT_ACCEPT;
    EXPECT_EQ(hooks.connect(m, 3, info, &err.error), SB_CONNECT_ACCEPT);
    EXPECT_EQ(m.rejects_total, 2u);
}

TEST_F(HookDispatcherTest, AModuleWithoutAHookIsPassedBy) {
    sb_module_descriptor d{};
    d.struct_size = sizeof(sb_module_descriptor);
    sb::ModuleInstance m;
    m.hooks = sb::HookDispatcher::resolve(d);
    const sb_event ev{sizeof(sb_event), "/", "chat", "[]", 2, nullptr, 0, -1};
    sb::ErrorBuffer err;
    EXPECT_EQ(hooks.event(m, 1, ev, &err.error), SB_EVENT_CONTINUE);
    EXPECT_EQ(hooks.connect(m, 1, sb_connect_info{}, &err.error), SB_CONNECT_ACCEPT);
    hooks.disconnect(m, 1, "transport close");
    EXPECT_EQ(m.events_total + m.rejects_total + m.errors_total, 0u);
}

TEST_F(HookDispatcherTest, DispatchedArgsAreKnownOnlyWhileTheChainRuns) {
    const std::string args = "[\"hi\"]";
    {
        const sb::HookDispatcher::EventArgsScope scope(hooks, args);
        EXPECT_TRUE(hooks.is_dispatched_args(args.data(), args.size()));
        const std::string copy = args;  // equal bytes elsewhere are not the dispatched buffer
        EXPECT_FALSE(hooks.is_dispatched_args(copy.data(), copy.size()));
        EXPECT_FALSE(hooks.is_dispatched_args(args.data(), args.size() - 1));
    }
    EXPECT_FALSE(hooks.is_dispatched_args(args.data(), args.size()));
}

}  // namespace
