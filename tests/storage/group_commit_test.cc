// GroupCommitQueue on its own: commits one at a time and in queue order,
// every callback exactly once, and the hand-off of the lead while a leader
// answers its group's calls (storage/group_commit.h).
#include "storage/group_commit.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace caseledger::storage {
namespace {

struct Request {
  int thread = 0;
  int sequence = 0;
  bool committed = false;
};

// Records what `commit` saw, and fails the test if two commits overlap.
class Recorder {
 public:
  void Commit(const std::vector<Request*>& group) {
    EXPECT_FALSE(in_commit_.exchange(true)) << "two commits ran at the same time";
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (Request* r : group) {
        r->committed = true;
        order_.push_back({r->thread, r->sequence});
      }
    }
    in_commit_.store(false);
  }
  std::vector<std::pair<int, int>> order() {
    std::lock_guard<std::mutex> lock(mu_);
    return order_;
  }

 private:
  std::atomic<bool> in_commit_{false};
  std::mutex mu_;
  std::vector<std::pair<int, int>> order_;
};

GroupCommitQueue<Request>::Limits SmallGroups() {
  GroupCommitQueue<Request>::Limits limits;
  limits.max_group_bytes = 4;  // at most 4 one-byte requests per group
  return limits;
}

std::unique_ptr<Request> Make(int thread, int sequence) {
  auto r = std::make_unique<Request>();
  r->thread = thread;
  r->sequence = sequence;
  return r;
}

// While a leader runs its group's callbacks (which answer calls), a request
// submitted by another thread is committed and answered at once, without
// waiting for those callbacks to finish.
TEST(GroupCommitQueueTest, AnotherThreadCommitsTheNextGroupWhileALeaderAnswers) {
  Recorder recorder;
  GroupCommitQueue<Request> queue(SmallGroups(), [&](const std::vector<Request*>& g) { recorder.Commit(g); });

  std::mutex mu;
  std::condition_variable cv;
  bool first_answering = false, second_answered = false;
  bool first_saw_second = false;

  std::thread leader([&] {
    queue.SubmitAsync(Make(1, 1), 1, [&](absl::Status s, Request& r) {
      EXPECT_TRUE(s.ok());
      EXPECT_TRUE(r.committed);
      std::unique_lock<std::mutex> lock(mu);
      first_answering = true;
      cv.notify_all();
      // Still answering the first group: the second must get through meanwhile.
      first_saw_second = cv.wait_for(lock, std::chrono::seconds(10), [&] { return second_answered; });
    });
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return first_answering; }));
  }
  bool answered_here = false;
  queue.SubmitAsync(Make(2, 1), 1, [&](absl::Status s, Request& r) {
    EXPECT_TRUE(s.ok());
    EXPECT_TRUE(r.committed);
    answered_here = true;
    std::lock_guard<std::mutex> lock(mu);
    second_answered = true;
    cv.notify_all();
  });
  // This thread found no leader, led, and answered before returning.
  EXPECT_TRUE(answered_here);
  leader.join();
  EXPECT_TRUE(first_saw_second) << "the second request waited for the first group's callbacks";
  EXPECT_EQ(recorder.order(), (std::vector<std::pair<int, int>>{{1, 1}, {2, 1}}));
}

// A callback that submits again does not nest a new leader inside itself: the
// thread commits the new request after its callbacks, before its own
// SubmitAsync returns (no other thread leads here).
TEST(GroupCommitQueueTest, ACallbackThatSubmitsAgainIsCommittedAfterItWithoutNesting) {
  Recorder recorder;
  GroupCommitQueue<Request> queue(SmallGroups(), [&](const std::vector<Request*>& g) { recorder.Commit(g); });
  constexpr int kChain = 50;
  int depth = 0, max_depth = 0, answered = 0;
  std::function<void(absl::Status, Request&)> done = [&](absl::Status s, Request& r) {
    EXPECT_TRUE(s.ok());
    ++depth;
    max_depth = std::max(max_depth, depth);
    ++answered;
    if (r.sequence < kChain) queue.SubmitAsync(Make(1, r.sequence + 1), 1, done);
    --depth;
  };
  queue.SubmitAsync(Make(1, 1), 1, done);
  EXPECT_EQ(answered, kChain);
  EXPECT_EQ(max_depth, 1) << "callbacks ran inside callbacks";
  EXPECT_EQ(recorder.order().size(), static_cast<size_t>(kChain));
}

// The no-nesting rule is per queue: a callback of one queue that submits to
// another queue leads that one at once.
TEST(GroupCommitQueueTest, ACallbackMaySubmitToAnotherQueueAndThatOneIsLedAtOnce) {
  Recorder first_recorder, second_recorder;
  GroupCommitQueue<Request> first(SmallGroups(), [&](const std::vector<Request*>& g) { first_recorder.Commit(g); });
  GroupCommitQueue<Request> second(SmallGroups(), [&](const std::vector<Request*>& g) { second_recorder.Commit(g); });
  bool second_answered_inside = false;
  first.SubmitAsync(Make(1, 1), 1, [&](absl::Status, Request&) {
    bool answered = false;
    second.SubmitAsync(Make(2, 1), 1, [&](absl::Status s, Request& r) {
      EXPECT_TRUE(s.ok());
      EXPECT_TRUE(r.committed);
      answered = true;
    });
    second_answered_inside = answered;
  });
  EXPECT_TRUE(second_answered_inside);
  EXPECT_EQ(second_recorder.order().size(), 1u);
}

// Many threads, asynchronous and blocking requests mixed, callbacks that take
// a while: commits never overlap, each thread's requests are committed in the
// order it submitted them, and every callback runs exactly once.
TEST(GroupCommitQueueTest, ConcurrentSubmittersAreCommittedInOrderAndAnsweredOnce) {
  Recorder recorder;
  GroupCommitQueue<Request> queue(SmallGroups(), [&](const std::vector<Request*>& g) { recorder.Commit(g); });
  constexpr int kThreads = 8, kPerThread = 300;
  std::vector<std::atomic<int>> answers(kThreads * kPerThread);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        if (t == 0 && i % 3 == 0) {
          Request mine;
          mine.thread = t;
          mine.sequence = i;
          ASSERT_TRUE(queue.Submit(&mine, 1).ok());
          EXPECT_TRUE(mine.committed);
          answers[t * kPerThread + i].fetch_add(1);
          continue;
        }
        queue.SubmitAsync(Make(t, i), 1, [&, t, i](absl::Status s, Request& r) {
          EXPECT_TRUE(s.ok());
          EXPECT_TRUE(r.committed);
          if (i % 16 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
          answers[t * kPerThread + i].fetch_add(1);
        });
      }
    });
  }
  for (std::thread& th : threads) th.join();
  // Every SubmitAsync has returned; a request still queued would be led by
  // the thread answering the group before it, which has not necessarily
  // finished: wait for the last answers.
  for (int spin = 0; spin < 10000; ++spin) {
    bool all = true;
    for (auto& a : answers) all = all && a.load() == 1;
    if (all) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (int k = 0; k < kThreads * kPerThread; ++k) {
    ASSERT_EQ(answers[k].load(), 1) << "request " << k % kPerThread << " of thread " << k / kPerThread;
  }
  std::vector<int> last(kThreads, -1);
  std::vector<std::pair<int, int>> order = recorder.order();
  ASSERT_EQ(order.size(), static_cast<size_t>(kThreads * kPerThread));
  for (const auto& [thread, sequence] : order) {
    EXPECT_GT(sequence, last[thread]) << "thread " << thread << " committed out of order";
    last[thread] = sequence;
  }
}

}  // namespace
}  // namespace caseledger::storage
