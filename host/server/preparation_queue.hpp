// The queue in front of the worker pool: preparation jobs (parse, decode images, template, tokenize,
// process) wait per client and run round-robin across clients, so a client that sends many heavy requests
// delays its own requests, not everyone's. A client is whatever key the server passes (the peer address).
//
// Example: client A queues a1..a8, then client B queues b1; with two workers busy on a1 and a2, b1 runs
// next, before a3.
//
// Thread-safe: push() runs on the io thread, jobs on the pool's threads; one mutex guards the queues.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace mmrt::server {

class PreparationQueue {
 public:
  PreparationQueue(boost::asio::thread_pool& pool, size_t max_queued);

  // false (and nothing queued) when max_queued jobs are already waiting.
  bool push(const std::string& client, std::function<void()> job);
  size_t queued() const;

 private:
  void run_next();

  boost::asio::thread_pool& pool_;
  const size_t max_queued_;
  mutable std::mutex mutex_;
  std::map<std::string, std::deque<std::function<void()>>> waiting_;  // clients with jobs, never empty
  std::deque<std::string> turns_;  // each client with waiting jobs once, next to run first
  size_t queued_ = 0;
};

}  // namespace mmrt::server
