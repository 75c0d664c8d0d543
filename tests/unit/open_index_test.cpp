// The open-addressing index behind the sockets by id and the sessions by sid:
// lookups after any mix of insertions and removals (the removal that shifts
// entries back is where such a table goes wrong), growth and shrinking, a walk
// that sees each entry once, and string keys.
#include "open_index.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace sb {
namespace {

struct Item {
    uint64_t id;
};
struct ById {
    static uint64_t key(const Item* i) { return i->id; }
    static uint64_t hash(uint64_t id) { return id; }
};
using SocketIndex = OpenIndex<Item, ById>;

struct Named {
    std::string name;
};
struct ByName {
    static std::string_view key(const Named* n) { return n->name; }
    static uint64_t hash(std::string_view name) { return std::hash<std::string_view>{}(name); }
};

TEST(OpenIndex, EmptyFindsNothing) {
    SocketIndex index;
    EXPECT_EQ(index.find(1), nullptr);
    index.erase(1);  // not there: nothing happens
    EXPECT_EQ(index.size(), 0u);
}

TEST(OpenIndex, FindsWhatWasInsertedAndNotWhatWasErased) {
    std::vector<Item> items;
    for (uint64_t id = 1; id <= 1000; id++) items.push_back({id});
    SocketIndex index;
    for (auto& it : items) index.insert(&it);
    EXPECT_EQ(index.size(), 1000u);
    for (auto& it : items) EXPECT_EQ(index.find(it.id), &it);
    EXPECT_EQ(index.find(1001), nullptr);
    for (auto& it : items)
        if (it.id % 3 == 0) index.erase(it.id);
    for (auto& it : items) EXPECT_EQ(index.find(it.id), it.id % 3 == 0 ? nullptr : &it) << it.id;
    EXPECT_EQ(index.size(), 667u);
}

// Random churn against a reference set: every removal shifts entries, every
// growth and shrink rehashes; after each step every live id must be found.
TEST(OpenIndex, RandomChurnMatchesAReferenceSet) {
    std::mt19937_64 rng(7);
    std::vector<std::unique_ptr<Item>> live;
    std::set<uint64_t> ids;
    SocketIndex index;
    uint64_t next_id = 1;
    for (int step = 0; step < 20000; step++) {
        const bool add = live.empty() || (step < 10000 ? rng() % 3 != 0 : rng() % 3 == 0);
        if (add) {
            live.push_back(std::make_unique<Item>(Item{next_id}));
            ids.insert(next_id++);
            index.insert(live.back().get());
        } else {
            const size_t victim = rng() % live.size();
            const uint64_t id = live[victim]->id;
            index.erase(id);
            ids.erase(id);
            live[victim] = std::move(live.back());
            live.pop_back();
            EXPECT_EQ(index.find(id), nullptr);
        }
        ASSERT_EQ(index.size(), ids.size());
        if (step % 997 == 0) {
            for (const auto& item : live) ASSERT_EQ(index.find(item->id), item.get()) << "step " << step;
        }
    }
    for (const auto& item : live) EXPECT_EQ(index.find(item->id), item.get());
    std::set<uint64_t> walked;
    index.for_each([&](Item* item) { EXPECT_TRUE(walked.insert(item->id).second); });
    EXPECT_EQ(walked, ids);
}

TEST(OpenIndex, StringKeysFoundByAnyViewOfTheSameText) {
    std::vector<std::unique_ptr<Named>> sessions;
    OpenIndex<Named, ByName> index;
    for (int i = 0; i < 300; i++) {
        sessions.push_back(std::make_unique<Named>(Named{"sid-" + std::to_string(i)}));
        index.insert(sessions.back().get());
    }
    const std::string asked = "sid-42";  // another buffer than the session's own
    EXPECT_EQ(index.find(asked), sessions[42].get());
    EXPECT_EQ(index.find("sid-300"), nullptr);
    for (int i = 0; i < 300; i += 2) index.erase(sessions[i]->name);
    for (int i = 0; i < 300; i++) EXPECT_EQ(index.find(sessions[i]->name), i % 2 ? sessions[i].get() : nullptr);
}

}  // namespace
}  // namespace sb
