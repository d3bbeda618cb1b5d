// One process-wide cap on the bytes the server holds for clients: request bodies from the moment their
// headers announce them until the worker has parsed them, and response bytes not yet written to a socket.
// Without it every connection may hold a full --max-body-bytes body, so a few stalled uploads could take
// gigabytes.
//
// Thread-safe (one atomic counter): the io thread reserves, a worker may release.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

namespace mmrt::server {

class MemoryBudget {
 public:
  explicit MemoryBudget(uint64_t limit) : limit_(limit) {}

  // Bytes held while alive; released on destruction. Movable, so it travels with the bytes it covers.
  class Reservation {
   public:
    Reservation() = default;
    Reservation(Reservation&& other) noexcept : budget_(other.budget_), bytes_(other.bytes_) {
      other.budget_ = nullptr;
    }
    Reservation& operator=(Reservation&& other) noexcept;
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;
    ~Reservation() { release(); }
    void release();
    uint64_t bytes() const { return budget_ ? bytes_ : 0; }

   private:
    friend class MemoryBudget;
    Reservation(MemoryBudget* budget, uint64_t bytes) : budget_(budget), bytes_(bytes) {}
    MemoryBudget* budget_ = nullptr;
    uint64_t bytes_ = 0;
  };

  // An empty reservation when `bytes` would take the total past the limit.
  Reservation try_reserve(uint64_t bytes);
  // Always succeeds: for bytes already computed (a response), which must be counted but cannot be refused.
  Reservation charge(uint64_t bytes);

  uint64_t held() const { return held_.load(std::memory_order_relaxed); }
  uint64_t limit() const { return limit_; }

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> held_{0};
};

}  // namespace mmrt::server
