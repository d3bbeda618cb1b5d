#include "host/server/memory_budget.hpp"

namespace mmrt::server {

MemoryBudget::Reservation& MemoryBudget::Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    release();
    budget_ = other.budget_;
    bytes_ = other.bytes_;
    other.budget_ = nullptr;
  }
  return *this;
}

void MemoryBudget::Reservation::release() {
  if (budget_) budget_->held_.fetch_sub(bytes_, std::memory_order_relaxed);
  budget_ = nullptr;
}

MemoryBudget::Reservation MemoryBudget::try_reserve(uint64_t bytes) {
  uint64_t held = held_.load(std::memory_order_relaxed);
  do {
    if (held + bytes > limit_) return {};
  } while (!held_.compare_exchange_weak(held, held + bytes, std::memory_order_relaxed));
  return Reservation(this, bytes);
}

MemoryBudget::Reservation MemoryBudget::charge(uint64_t bytes) {
  held_.fetch_add(bytes, std::memory_order_relaxed);
  return Reservation(this, bytes);
}

}  // namespace mmrt::server
