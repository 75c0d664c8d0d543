// FIFO deadlines on one libuv timer, run on a real loop with short delays.
// The tests check ordering, cancellation and rescheduling, never precise
// timing.
#include "deadline_queue.h"

#include <gtest/gtest.h>
#include <uv.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace {

using sb::DeadlineEntry;
using sb::DeadlineQueue;

// An owner of a deadline, named so that the expiry order can be checked.
struct Item {
    explicit Item(std::string n) : name(std::move(n)) { entry.owner = this; }
    std::string name;
    DeadlineEntry entry;
};

Item& item_of(DeadlineEntry& e) { return *static_cast<Item*>(e.owner); }

class DeadlineQueueTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_EQ(uv_loop_init(&loop_), 0);
        uv_update_time(&loop_);
    }

    void TearDown() override {
        queues_.clear();  // closes the timers
        uv_run(&loop_, UV_RUN_DEFAULT);
        EXPECT_EQ(uv_loop_close(&loop_), 0);
    }

    // A queue whose expiry records the owner's name, then calls `extra`.
    DeadlineQueue& make_queue(std::function<void(DeadlineEntry&)> extra = {}) {
        queues_.push_back(std::make_unique<DeadlineQueue>(&loop_, [this, extra](DeadlineEntry& e) {
            fired_.push_back(item_of(e).name);
            states_when_fired_.push_back(e.scheduled());
            if (extra) extra(e);
        }));
        return *queues_.back();
    }

    // Runs the loop until no timer is active any more (the queue stops its
    // timer once it is empty). A watchdog guards against a hang.
    void run() {
        uv_timer_t watchdog;
        uv_timer_init(&loop_, &watchdog);
        watchdog.data = this;
        uv_timer_start(
            &watchdog,
            [](uv_timer_t* t) {
                static_cast<DeadlineQueueTest*>(t->data)->watchdog_fired_ = true;
                uv_stop(t->loop);
            },
            5000, 0);
        uv_unref(reinterpret_cast<uv_handle_t*>(&watchdog));
        uv_run(&loop_, UV_RUN_DEFAULT);
        uv_close(reinterpret_cast<uv_handle_t*>(&watchdog), nullptr);
        uv_run(&loop_, UV_RUN_NOWAIT);
        EXPECT_FALSE(watchdog_fired_) << "the loop did not finish within 5 s";
    }

    uv_loop_t loop_{};
    std::vector<std::unique_ptr<DeadlineQueue>> queues_;
    std::vector<std::string> fired_;
    std::vector<bool> states_when_fired_;
    bool watchdog_fired_ = false;
};

using Names = std::vector<std::string>;

TEST_F(DeadlineQueueTest, ExpiresInDeadlineOrder) {
    auto& q = make_queue();
    Item a("a"), b("b"), c("c");
    q.schedule(a.entry, 5);
    q.schedule(b.entry, 15);
    q.schedule(c.entry, 25);
    EXPECT_TRUE(a.entry.scheduled());
    EXPECT_TRUE(b.entry.scheduled());
    EXPECT_TRUE(c.entry.scheduled());
    run();
    EXPECT_EQ(fired_, (Names{"a", "b", "c"}));
    EXPECT_FALSE(a.entry.scheduled());
    EXPECT_FALSE(b.entry.scheduled());
    EXPECT_FALSE(c.entry.scheduled());
}

TEST_F(DeadlineQueueTest, EqualDelaysExpireInScheduleOrder) {
    auto& q = make_queue();
    Item a("a"), b("b"), c("c"), d("d");
    q.schedule(c.entry, 5);
    q.schedule(a.entry, 5);
    q.schedule(d.entry, 5);
    q.schedule(b.entry, 5);
    run();
    EXPECT_EQ(fired_, (Names{"c", "a", "d", "b"}));
}

TEST_F(DeadlineQueueTest, EntryIsUnlinkedBeforeCallback) {
    auto& q = make_queue();
    Item a("a");
    q.schedule(a.entry, 5);
    run();
    EXPECT_EQ(fired_, (Names{"a"}));
    ASSERT_EQ(states_when_fired_.size(), 1u);
    EXPECT_FALSE(states_when_fired_[0]);
    EXPECT_EQ(a.entry.prev, nullptr);
    EXPECT_EQ(a.entry.next, nullptr);
    EXPECT_EQ(a.entry.queue, nullptr);
}

TEST_F(DeadlineQueueTest, DoesNotExpireEarly) {
    uint64_t start = uv_now(&loop_);
    uint64_t fired_at = 0;
    auto& q = make_queue([&](DeadlineEntry&) { fired_at = uv_now(&loop_); });
    Item a("a");
    q.schedule(a.entry, 20);
    run();
    ASSERT_EQ(fired_, (Names{"a"}));
    EXPECT_GE(fired_at, start + 20);
}

TEST_F(DeadlineQueueTest, CancelBeforeExpiryPreventsCallback) {
    auto& q = make_queue();
    Item a("a"), b("b"), c("c");
    q.schedule(a.entry, 5);
    q.schedule(b.entry, 10);
    q.schedule(c.entry, 15);
    DeadlineQueue::cancel(b.entry);
    EXPECT_FALSE(b.entry.scheduled());
    run();
    EXPECT_EQ(fired_, (Names{"a", "c"}));
}

TEST_F(DeadlineQueueTest, CancelHeadAndTail) {
    auto& q = make_queue();
    Item a("a"), b("b"), c("c");
    q.schedule(a.entry, 5);
    q.schedule(b.entry, 10);
    q.schedule(c.entry, 15);
    DeadlineQueue::cancel(a.entry);
    DeadlineQueue::cancel(c.entry);
    run();
    EXPECT_EQ(fired_, (Names{"b"}));
}

TEST_F(DeadlineQueueTest, CancelEverything) {
    auto& q = make_queue();
    Item a("a"), b("b");
    q.schedule(a.entry, 5);
    q.schedule(b.entry, 10);
    DeadlineQueue::cancel(b.entry);
    DeadlineQueue::cancel(a.entry);
    run();
    EXPECT_TRUE(fired_.empty());
}

TEST_F(DeadlineQueueTest, CancelUnscheduledIsNoOp) {
    auto& q = make_queue();
    Item a("a"), b("b");
    DeadlineQueue::cancel(a.entry);
    EXPECT_FALSE(a.entry.scheduled());
    q.schedule(b.entry, 5);
    DeadlineQueue::cancel(a.entry);
    DeadlineQueue::cancel(a.entry);
    run();
    EXPECT_EQ(fired_, (Names{"b"}));
    DeadlineQueue::cancel(b.entry);  // after expiry
    EXPECT_FALSE(b.entry.scheduled());
}

TEST_F(DeadlineQueueTest, CancelFromCallback) {
    Item a("a"), b("b"), c("c");
    auto& q = make_queue([&](DeadlineEntry& e) {
        if (&e == &a.entry) DeadlineQueue::cancel(b.entry);
    });
    q.schedule(a.entry, 5);
    q.schedule(b.entry, 5);  // same deadline: would expire in the same pass
    q.schedule(c.entry, 10);
    run();
    EXPECT_EQ(fired_, (Names{"a", "c"}));
}

TEST_F(DeadlineQueueTest, RescheduleMovesEntryLater) {
    auto& q = make_queue();
    Item a("a"), b("b"), c("c");
    q.schedule(a.entry, 5);
    q.schedule(b.entry, 15);
    q.schedule(c.entry, 20);
    q.schedule(a.entry, 30);  // the head moves behind everything
    run();
    EXPECT_EQ(fired_, (Names{"b", "c", "a"}));
}

TEST_F(DeadlineQueueTest, RescheduleMovesEntryEarlier) {
    auto& q = make_queue();
    Item a("a"), b("b"), c("c");
    q.schedule(a.entry, 20);
    q.schedule(b.entry, 25);
    q.schedule(c.entry, 30);
    q.schedule(c.entry, 5);  // the tail moves to the front
    run();
    EXPECT_EQ(fired_, (Names{"c", "a", "b"}));
}

TEST_F(DeadlineQueueTest, RescheduleOnlyEntry) {
    auto& q = make_queue();
    Item a("a"), b("b");
    q.schedule(a.entry, 5);
    q.schedule(a.entry, 25);
    q.schedule(b.entry, 15);
    run();
    EXPECT_EQ(fired_, (Names{"b", "a"}));
}

TEST_F(DeadlineQueueTest, CallbackReschedulingItselfFiresAgain) {
    int count = 0;
    auto& q = make_queue([&](DeadlineEntry& e) {
        if (++count < 4) queues_[0]->schedule(e, 5);
    });
    Item a("a");
    q.schedule(a.entry, 5);
    run();
    EXPECT_EQ(count, 4);
    EXPECT_EQ(fired_, (Names{"a", "a", "a", "a"}));
    EXPECT_FALSE(a.entry.scheduled());
}

TEST_F(DeadlineQueueTest, SelfReschedulingInterleavesWithOthers) {
    // a ping-like entry every 10 ms; b expires once at 25 ms.
    Item a("a"), b("b");
    int a_count = 0;
    auto& q = make_queue([&](DeadlineEntry& e) {
        if (&e == &a.entry && ++a_count < 4) queues_[0]->schedule(e, 10);
    });
    q.schedule(a.entry, 10);
    q.schedule(b.entry, 25);
    run();
    EXPECT_EQ(a_count, 4);
    ASSERT_EQ(fired_.size(), 5u);
    // b (at 25 ms) comes after the second a (20 ms) and before the fourth (40 ms).
    auto pos = std::find(fired_.begin(), fired_.end(), "b") - fired_.begin();
    EXPECT_GE(pos, 2);
    EXPECT_LE(pos, 3);
}

TEST_F(DeadlineQueueTest, ShorterDelayScheduledLaterExpiresFirst) {
    auto& q = make_queue();
    Item a("a"), b("b");
    q.schedule(a.entry, 30);
    q.schedule(b.entry, 5);
    run();
    EXPECT_EQ(fired_, (Names{"b", "a"}));
}

TEST_F(DeadlineQueueTest, ShorterDelayIsInsertedInTheMiddle) {
    auto& q = make_queue();
    Item a("a"), b("b"), c("c"), d("d");
    q.schedule(a.entry, 5);
    q.schedule(c.entry, 25);
    q.schedule(d.entry, 30);
    q.schedule(b.entry, 15);
    run();
    EXPECT_EQ(fired_, (Names{"a", "b", "c", "d"}));
}

TEST_F(DeadlineQueueTest, ScheduleFromCallbackWithShorterDelay) {
    // While handling a, schedule c with a delay shorter than b's remaining time.
    Item a("a"), b("b"), c("c");
    auto& q = make_queue([&](DeadlineEntry& e) {
        if (&e == &a.entry) queues_[0]->schedule(c.entry, 5);
    });
    q.schedule(a.entry, 5);
    q.schedule(b.entry, 30);
    run();
    EXPECT_EQ(fired_, (Names{"a", "c", "b"}));
}

TEST_F(DeadlineQueueTest, MovingEntryToAnotherQueue) {
    std::vector<std::string> second;
    auto& q1 = make_queue();
    queues_.push_back(std::make_unique<DeadlineQueue>(&loop_, [&](DeadlineEntry& e) { second.push_back(item_of(e).name); }));
    auto& q2 = *queues_.back();
    Item a("a"), b("b");
    q1.schedule(a.entry, 5);
    q1.schedule(b.entry, 10);
    q2.schedule(a.entry, 15);
    EXPECT_EQ(a.entry.queue, &q2);
    run();
    EXPECT_EQ(fired_, (Names{"b"}));
    EXPECT_EQ(second, (Names{"a"}));
}

TEST_F(DeadlineQueueTest, DestroyingQueueUnlinksPendingEntries) {
    auto& q = make_queue();
    Item a("a"), b("b");
    q.schedule(a.entry, 1000);
    q.schedule(b.entry, 2000);
    queues_.clear();
    EXPECT_FALSE(a.entry.scheduled());
    EXPECT_FALSE(b.entry.scheduled());
    run();  // the closed timer does not keep the loop busy
    EXPECT_TRUE(fired_.empty());
}

TEST_F(DeadlineQueueTest, ClosedQueueFiresNothing) {
    auto& q = make_queue();
    Item a("a");
    q.schedule(a.entry, 5);
    q.close();
    run();
    EXPECT_TRUE(fired_.empty());
    DeadlineQueue::cancel(a.entry);
    EXPECT_FALSE(a.entry.scheduled());
}

}  // namespace

// Deadlines held outside their owners: the callback gets the owner, a
// cancelled owner never fires, and an owner can be scheduled again from its
// own expiry (its entry is gone by then).
TEST_F(DeadlineQueueTest, SparseDeadlinesFireByOwnerAndCancel) {
    Item a("a"), b("b"), c("c");
    int a_fired = 0;
    sb::SparseDeadlines<Item>* sparse_ptr = nullptr;
    sb::SparseDeadlines<Item> sparse(&loop_, [&](Item* owner) {
        fired_.push_back(owner->name);
        if (owner == &a && ++a_fired == 1) sparse_ptr->schedule(&a, 20);
    });
    sparse_ptr = &sparse;
    sparse.cancel(&a);  // not scheduled: nothing happens
    sparse.schedule(&a, 5);
    sparse.schedule(&b, 10);
    sparse.schedule(&c, 15);
    sparse.cancel(&b);
    run();
    EXPECT_EQ(fired_, (Names{"a", "c", "a"}));
    sparse.cancel(&c);  // after expiry: nothing happens
}
