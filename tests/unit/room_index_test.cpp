// Rooms of one namespace, indexed in both directions.
#include "room_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace {

using sb::RoomIndex;

std::vector<std::string> rooms_of(const RoomIndex& idx, RoomIndex::SocketId s) {
    const auto* r = idx.rooms_of(s);
    if (!r) return {};
    std::vector<std::string> v = *r;
    std::sort(v.begin(), v.end());
    return v;
}

std::vector<RoomIndex::SocketId> members(const RoomIndex& idx, std::string_view room) {
    const auto* m = idx.members(room);
    if (!m) return {};
    std::vector<RoomIndex::SocketId> v(m->begin(), m->end());
    std::sort(v.begin(), v.end());
    return v;
}

using Ids = std::vector<RoomIndex::SocketId>;
using Names = std::vector<std::string>;

TEST(RoomIndex, EmptyIndex) {
    RoomIndex idx;
    EXPECT_EQ(idx.room_count(), 0u);
    EXPECT_EQ(idx.members("r"), nullptr);
    EXPECT_EQ(idx.rooms_of(1), nullptr);
    EXPECT_FALSE(idx.contains(1, "r"));
    EXPECT_FALSE(idx.leave(1, "r"));
    idx.leave_all(1);  // no-op
    EXPECT_EQ(idx.room_count(), 0u);
}

TEST(RoomIndex, JoinBothDirections) {
    RoomIndex idx;
    EXPECT_TRUE(idx.join(1, "a"));
    EXPECT_TRUE(idx.join(1, "b"));
    EXPECT_TRUE(idx.join(2, "a"));
    EXPECT_EQ(idx.room_count(), 2u);
    EXPECT_EQ(members(idx, "a"), (Ids{1, 2}));
    EXPECT_EQ(members(idx, "b"), (Ids{1}));
    EXPECT_EQ(rooms_of(idx, 1), (Names{"a", "b"}));
    EXPECT_EQ(rooms_of(idx, 2), (Names{"a"}));
    EXPECT_TRUE(idx.contains(1, "a"));
    EXPECT_TRUE(idx.contains(1, "b"));
    EXPECT_TRUE(idx.contains(2, "a"));
    EXPECT_FALSE(idx.contains(2, "b"));
    EXPECT_FALSE(idx.contains(3, "a"));
    EXPECT_FALSE(idx.contains(1, "c"));
}

TEST(RoomIndex, RoomsOfKeepsJoinOrder) {
    RoomIndex idx;
    idx.join(7, "z");
    idx.join(7, "a");
    idx.join(7, "m");
    ASSERT_NE(idx.rooms_of(7), nullptr);
    EXPECT_EQ(*idx.rooms_of(7), (Names{"z", "a", "m"}));
}

TEST(RoomIndex, DuplicateJoinReturnsFalse) {
    RoomIndex idx;
    EXPECT_TRUE(idx.join(1, "a"));
    EXPECT_FALSE(idx.join(1, "a"));
    EXPECT_EQ(members(idx, "a"), (Ids{1}));
    ASSERT_NE(idx.rooms_of(1), nullptr);
    EXPECT_EQ(*idx.rooms_of(1), (Names{"a"}));  // not listed twice
    EXPECT_EQ(idx.room_count(), 1u);
    // One leave is enough after a duplicate join.
    EXPECT_TRUE(idx.leave(1, "a"));
    EXPECT_FALSE(idx.contains(1, "a"));
    EXPECT_EQ(idx.room_count(), 0u);
    EXPECT_EQ(idx.rooms_of(1), nullptr);
}

TEST(RoomIndex, LeaveOfNonMemberReturnsFalse) {
    RoomIndex idx;
    idx.join(1, "a");
    EXPECT_FALSE(idx.leave(2, "a"));   // room exists, socket not in it
    EXPECT_FALSE(idx.leave(1, "b"));   // room does not exist
    EXPECT_EQ(members(idx, "a"), (Ids{1}));
    EXPECT_EQ(rooms_of(idx, 1), (Names{"a"}));
    EXPECT_EQ(idx.room_count(), 1u);
    EXPECT_EQ(idx.members("b"), nullptr);  // a failed leave creates nothing
}

TEST(RoomIndex, LeaveKeepsBothDirectionsConsistent) {
    RoomIndex idx;
    idx.join(1, "a");
    idx.join(1, "b");
    idx.join(1, "c");
    idx.join(2, "b");
    EXPECT_TRUE(idx.leave(1, "b"));
    EXPECT_FALSE(idx.contains(1, "b"));
    EXPECT_EQ(members(idx, "b"), (Ids{2}));
    ASSERT_NE(idx.rooms_of(1), nullptr);
    EXPECT_EQ(*idx.rooms_of(1), (Names{"a", "c"}));
    EXPECT_EQ(idx.room_count(), 3u);
    EXPECT_FALSE(idx.leave(1, "b"));  // second leave
}

TEST(RoomIndex, EmptyRoomIsDeleted) {
    RoomIndex idx;
    idx.join(1, "a");
    idx.join(2, "a");
    idx.join(2, "b");
    EXPECT_EQ(idx.room_count(), 2u);
    EXPECT_TRUE(idx.leave(1, "a"));
    EXPECT_EQ(idx.room_count(), 2u);
    EXPECT_TRUE(idx.leave(2, "a"));
    EXPECT_EQ(idx.room_count(), 1u);
    EXPECT_EQ(idx.members("a"), nullptr);
    EXPECT_TRUE(idx.leave(2, "b"));
    EXPECT_EQ(idx.room_count(), 0u);
    EXPECT_EQ(idx.rooms_of(2), nullptr);  // socket with no rooms is forgotten
    // Rejoining recreates the room.
    EXPECT_TRUE(idx.join(1, "a"));
    EXPECT_EQ(idx.room_count(), 1u);
    EXPECT_EQ(members(idx, "a"), (Ids{1}));
}

TEST(RoomIndex, LeaveAll) {
    RoomIndex idx;
    idx.join(1, "a");
    idx.join(1, "b");
    idx.join(1, "solo");
    idx.join(2, "a");
    idx.join(2, "b");
    EXPECT_EQ(idx.room_count(), 3u);
    idx.leave_all(1);
    EXPECT_EQ(idx.rooms_of(1), nullptr);
    EXPECT_FALSE(idx.contains(1, "a"));
    EXPECT_FALSE(idx.contains(1, "b"));
    EXPECT_FALSE(idx.contains(1, "solo"));
    EXPECT_EQ(idx.members("solo"), nullptr);
    EXPECT_EQ(idx.room_count(), 2u);
    EXPECT_EQ(members(idx, "a"), (Ids{2}));
    EXPECT_EQ(members(idx, "b"), (Ids{2}));
    EXPECT_EQ(rooms_of(idx, 2), (Names{"a", "b"}));
    EXPECT_FALSE(idx.leave(1, "a"));
    idx.leave_all(1);  // again: no-op
    idx.leave_all(2);
    EXPECT_EQ(idx.room_count(), 0u);
    EXPECT_EQ(idx.rooms_of(2), nullptr);
}

TEST(RoomIndex, RoomNamesAreExactBytes) {
    RoomIndex idx;
    const std::string with_nul("a\0b", 3);
    EXPECT_TRUE(idx.join(1, with_nul));
    EXPECT_TRUE(idx.join(1, "a"));
    EXPECT_TRUE(idx.join(1, ""));
    EXPECT_EQ(idx.room_count(), 3u);
    EXPECT_TRUE(idx.contains(1, with_nul));
    EXPECT_FALSE(idx.contains(1, "ab"));
    EXPECT_TRUE(idx.leave(1, with_nul));
    EXPECT_TRUE(idx.contains(1, "a"));
    EXPECT_TRUE(idx.contains(1, ""));
    EXPECT_EQ(idx.room_count(), 2u);
}

TEST(RoomIndex, ManySockets) {
    RoomIndex idx;
    for (RoomIndex::SocketId s = 0; s < 1000; ++s) {
        ASSERT_TRUE(idx.join(s, "all"));
        ASSERT_TRUE(idx.join(s, "user:" + std::to_string(s)));
    }
    EXPECT_EQ(idx.room_count(), 1001u);
    ASSERT_NE(idx.members("all"), nullptr);
    EXPECT_EQ(idx.members("all")->size(), 1000u);
    for (RoomIndex::SocketId s = 0; s < 1000; s += 2) idx.leave_all(s);
    EXPECT_EQ(idx.room_count(), 501u);
    EXPECT_EQ(idx.members("all")->size(), 500u);
    EXPECT_TRUE(idx.contains(1, "user:1"));
    EXPECT_FALSE(idx.contains(2, "user:2"));
}

}  // namespace
