// A session's outbound queue: order, byte count, the inline frame, growth of
// the heap ring across its wrap-around, and that every reference it took is
// given back (frames are shared by every session a broadcast went to).
#include "engineio/frame_queue.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

// GCC 12 cannot tell that a frame whose count it sees decremented is still
// held by the test, and reports reading that count as a use after free.
#pragma GCC diagnostic ignored "-Wuse-after-free"

namespace sb {
namespace {

std::vector<FrameRef> frames(int n) {
    std::vector<FrameRef> out;
    for (int i = 0; i < n; i++) out.push_back(Frame::make("frame " + std::to_string(i), false));
    return out;
}

TEST(FrameQueue, StartsEmpty) {
    FrameQueue q;
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.size(), 0u);
    EXPECT_EQ(q.bytes(), 0u);
}

TEST(FrameQueue, OneFrameInlineComesBackWithItsReference) {
    FrameRef f = Frame::make("42[\"x\"]", false);
    FrameQueue q;
    q.push_back(f);
    EXPECT_EQ(f->use_count(), 2u);
    EXPECT_EQ(q.size(), 1u);
    EXPECT_EQ(q.bytes(), f->size());
    EXPECT_EQ(&q.at(0), f.get());
    FrameRef out = q.pop_front();
    EXPECT_EQ(out.get(), f.get());
    EXPECT_EQ(f->use_count(), 2u);  // the queue's reference moved to `out`
    out.reset();
    EXPECT_EQ(f->use_count(), 1u);
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.bytes(), 0u);
}

TEST(FrameQueue, KeepsOrderThroughGrowthAndWrapAround) {
    const auto in = frames(40);
    FrameQueue q;
    size_t next_in = 0, next_out = 0, bytes = 0;
    // Interleave pushes and pops so the ring's head moves before each growth.
    for (int round = 0; round < 10; round++) {
        for (int i = 0; i < 3 && next_in < in.size(); i++) {
            bytes += in[next_in]->size();
            q.push_back(in[next_in++]);
        }
        EXPECT_EQ(q.bytes(), bytes);
        EXPECT_EQ(&q.at(0), in[next_out].get());
        FrameRef out = q.pop_front();
        bytes -= out->size();
        EXPECT_EQ(out.get(), in[next_out++].get());
    }
    while (next_in < in.size()) q.push_back(in[next_in++]);
    ASSERT_EQ(q.size(), in.size() - next_out);
    for (size_t i = 0; i < q.size(); i++) EXPECT_EQ(&q.at(i), in[next_out + i].get());
    while (!q.empty()) EXPECT_EQ(q.pop_front().get(), in[next_out++].get());
    EXPECT_EQ(next_out, in.size());
    EXPECT_EQ(q.bytes(), 0u);
    for (const auto& f : in) EXPECT_EQ(f->use_count(), 1u);
}

TEST(FrameQueue, DrainedRingFallsBackToInlineAndWorksAgain) {
    const auto in = frames(6);
    FrameQueue q;
    for (const auto& f : in) q.push_back(f);
    while (!q.empty()) q.pop_front();
    q.push_back(in[0]);
    q.push_back(in[1]);
    EXPECT_EQ(q.pop_front().get(), in[0].get());
    EXPECT_EQ(q.pop_front().get(), in[1].get());
    EXPECT_TRUE(q.empty());
}

TEST(FrameQueue, DestructionAndClearReleaseEveryReference) {
    const auto in = frames(9);
    {
        FrameQueue q;
        for (const auto& f : in) q.push_back(f);
        q.push_back(in[0]);  // the same frame twice, as a session can hold it
        EXPECT_EQ(in[0]->use_count(), 3u);
    }
    for (const auto& f : in) EXPECT_EQ(f->use_count(), 1u);
    FrameQueue q;
    q.push_back(in[1]);
    q.clear();
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(in[1]->use_count(), 1u);
}

}  // namespace
}  // namespace sb
