#include "host/server/preparation_queue.hpp"

#include <boost/asio/post.hpp>

namespace mmrt::server {

PreparationQueue::PreparationQueue(boost::asio::thread_pool& pool, size_t max_queued)
    : pool_(pool), max_queued_(max_queued) {}

bool PreparationQueue::push(const std::string& client, std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    if (queued_ >= max_queued_) return false;
    auto& jobs = waiting_[client];
    if (jobs.empty()) turns_.push_back(client);
    jobs.push_back(std::move(job));
    ++queued_;
  }
  // One pool task per queued job; each task runs whichever job is next in turn, not necessarily this one.
  boost::asio::post(pool_, [this] { run_next(); });
  return true;
}

size_t PreparationQueue::queued() const {
  std::lock_guard lock(mutex_);
  return queued_;
}

void PreparationQueue::run_next() {
  std::function<void()> job;
  {
    std::lock_guard lock(mutex_);
    const std::string client = std::move(turns_.front());
    turns_.pop_front();
    auto it = waiting_.find(client);
    job = std::move(it->second.front());
    it->second.pop_front();
    if (it->second.empty()) {
      waiting_.erase(it);
    } else {
      turns_.push_back(client);
    }
    --queued_;
  }
  job();
}

}  // namespace mmrt::server
