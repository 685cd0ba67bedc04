// GroupCommitQueue: the queue and the leader hand-off behind the group commits
// of EventStore (events) and AccessLog (access records).
//
// Owns: the queue of submitted requests. A request is the caller's `T`: what
// to write and, once committed, its outcome. A blocking request lives on its
// caller's stack; an asynchronous one is owned by the queue until its callback
// has run.
//
// Promises:
//  - One thread at a time leads. It takes a group from the front of the queue
//    (requests up to max_group_bytes together, at least one), calls `commit`
//    on it with no lock of the queue held, completes every request of the
//    group, and goes on while requests wait. It stops when the queue is empty,
//    or, once its own request (if it has one) is done, hands the lead to a
//    blocking request at the front, whose thread is waiting anyway.
//  - Once its own request (if it has one) is done, the leader gives up the
//    lead while it runs the group's `done` callbacks (which answer calls, and
//    that can take as long as a commit), so that a thread submitting meanwhile
//    leads and commits the next group at the same time. After the callbacks
//    it leads again if requests wait and no other thread leads. Commits stay
//    one at a time and in queue order; callbacks of different groups may run
//    at the same time on different threads.
//  - Submit returns once its request is committed (OK: the outcome is in the
//    request, as `commit` left it), or at once with RESOURCE_EXHAUSTED when
//    the queue is full (nothing queued).
//  - SubmitAsync never waits for another thread: `done` runs exactly once,
//    with OK after the commit or with the RESOURCE_EXHAUSTED refusal; on the
//    calling thread (refused, or it found no leader and led) or on the
//    leader's. `done` runs with no lock of the queue held; it may call
//    SubmitAsync again (queued; the thread running `done` commits it after
//    the group's callbacks unless another thread leads by then, so callbacks
//    never nest), never Submit (which would wait for the very thread it runs
//    on).
//  - A queue holding max_queued requests, or max_queued_bytes, refuses more;
//    an empty queue admits any one request.
//
// Thread-safety: thread-safe. `commit` is only ever called by one thread at a time.
#ifndef CASELEDGER_STORAGE_GROUP_COMMIT_H_
#define CASELEDGER_STORAGE_GROUP_COMMIT_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace caseledger::storage {

template <typename T>
class GroupCommitQueue {
 public:
  struct Limits {
    size_t max_group_bytes = 16 << 20;
    size_t max_queued = 4096;
    size_t max_queued_bytes = 256 << 20;
  };
  using CommitFn = std::function<void(const std::vector<T*>& group)>;
  using DoneFn = std::function<void(absl::Status queued, T& request)>;

  GroupCommitQueue(Limits limits, CommitFn commit) : limits_(limits), commit_(std::move(commit)) {}
  GroupCommitQueue(const GroupCommitQueue&) = delete;
  GroupCommitQueue& operator=(const GroupCommitQueue&) = delete;

  absl::Status Submit(T* request, size_t bytes) {
    Entry mine(request, bytes);
    std::unique_lock<std::mutex> lock(mu_);
    if (absl::Status admitted = AdmitLocked(bytes); !admitted.ok()) return admitted;
    Push(&mine);
    if (leading_) {
      mine.cv.wait(lock, [&] { return mine.finished || mine.lead; });
      if (mine.finished) return absl::OkStatus();
      // Handed over: this caller leads now (leading_ stayed set).
    } else {
      leading_ = true;
    }
    Lead(&mine, lock);
    return absl::OkStatus();
  }

  void SubmitAsync(std::unique_ptr<T> request, size_t bytes, DoneFn done) {
    auto entry = std::make_unique<Entry>(request.get(), bytes);
    entry->owned = std::move(request);
    entry->done = std::move(done);
    std::unique_lock<std::mutex> lock(mu_);
    if (absl::Status admitted = AdmitLocked(bytes); !admitted.ok()) {
      lock.unlock();
      entry->done(std::move(admitted), *entry->request);
      return;
    }
    Push(entry.release());
    // Called from a `done` callback of this queue: that thread leads again
    // after its callbacks if nobody else does (no nesting).
    if (leading_ || answering_ == this) return;
    leading_ = true;
    Lead(nullptr, lock);
  }

  // SubmitAsync for a request whose outcome is its `result` member (an
  // absl::StatusOr): `done` gets the queue's refusal, or that result.
  template <typename Done>
  void SubmitAsyncForResult(std::unique_ptr<T> request, size_t bytes, Done done) {
    SubmitAsync(std::move(request), bytes, [done = std::move(done)](absl::Status queued, T& committed) mutable {
      if (!queued.ok()) {
        done(std::move(queued));
      } else {
        done(std::move(committed.result));
      }
    });
  }

 private:
  struct Entry {
    Entry(T* r, size_t b) : request(r), bytes(b) {}
    T* request;
    size_t bytes;
    DoneFn done;               // asynchronous only
    std::unique_ptr<T> owned;  // asynchronous only
    bool finished = false;     // blocking only, guarded by mu_: committed
    bool lead = false;         // blocking only, guarded by mu_: handed the lead
    std::condition_variable cv;
  };

  absl::Status AdmitLocked(size_t bytes) const {
    if (queue_.empty()) return absl::OkStatus();
    if (queue_.size() >= limits_.max_queued || queued_bytes_ + bytes > limits_.max_queued_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat(queue_.size(), " requests (", queued_bytes_ >> 20,
                                                       " MiB) are already waiting to be written; nothing was "
                                                       "written, retry with backoff"));
    }
    return absl::OkStatus();
  }

  void Push(Entry* e) {
    queue_.push_back(e);
    queued_bytes_ += e->bytes;
  }

  // Entered and left with `lock` held and leading_ set on entry.
  void Lead(Entry* own, std::unique_lock<std::mutex>& lock) {
    for (;;) {
      std::vector<T*> group;
      size_t group_bytes = 0;
      for (Entry* candidate : queue_) {
        if (!group.empty() && group_bytes + candidate->bytes > limits_.max_group_bytes) break;
        group.push_back(candidate->request);
        group_bytes += candidate->bytes;
      }
      lock.unlock();
      commit_(group);
      lock.lock();
      std::vector<std::unique_ptr<Entry>> callbacks;
      for (size_t i = 0; i < group.size(); ++i) {
        Entry* member = queue_.front();
        queue_.pop_front();
        queued_bytes_ -= member->bytes;
        if (member->done) {
          callbacks.emplace_back(member);
        } else {
          member->finished = true;
          if (member != own) member->cv.notify_one();
        }
      }
      if (!callbacks.empty()) {
        // Answer the group's calls with the lead given up, unless this
        // thread's own request still waits: a thread that submits meanwhile
        // commits the next group while this one answers.
        const bool released = own == nullptr || own->finished;
        if (released) leading_ = false;
        lock.unlock();
        const void* outer = answering_;
        answering_ = this;
        for (std::unique_ptr<Entry>& e : callbacks) e->done(absl::OkStatus(), *e->request);
        answering_ = outer;
        callbacks.clear();
        lock.lock();
        if (released) {
          if (leading_ || queue_.empty()) return;  // another thread leads, or nothing waits
          leading_ = true;
        }
      }
      if (own != nullptr && !own->finished) continue;
      if (queue_.empty()) {
        leading_ = false;
        return;
      }
      if (!queue_.front()->done) {
        queue_.front()->lead = true;
        queue_.front()->cv.notify_one();
        return;
      }
    }
  }

  const Limits limits_;
  const CommitFn commit_;
  std::mutex mu_;
  std::deque<Entry*> queue_;  // guarded by mu_
  size_t queued_bytes_ = 0;   // guarded by mu_
  bool leading_ = false;      // guarded by mu_: a thread is in Lead
  // The queue whose `done` callbacks this thread is running, if any.
  static thread_local const void* answering_;
};

template <typename T>
thread_local const void* GroupCommitQueue<T>::answering_ = nullptr;

}  // namespace caseledger::storage

#endif  // CASELEDGER_STORAGE_GROUP_COMMIT_H_
