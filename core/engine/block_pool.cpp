#include "core/engine/block_pool.hpp"

#include <stdexcept>
#include <string>

namespace mmrt::engine {

BlockPool::BlockPool(int64_t n_blocks)
    : refcount_(size_t(n_blocks), 0),
      hash_of_(size_t(n_blocks)),
      evictable_pos_(size_t(n_blocks)),
      in_evictable_(size_t(n_blocks), false) {
  free_.reserve(size_t(n_blocks));
  for (int64_t b = n_blocks - 1; b >= 0; --b) free_.push_back(int32_t(b));
}

std::optional<int32_t> BlockPool::allocate() {
  int32_t block;
  if (!free_.empty()) {
    block = free_.back();
    free_.pop_back();
  } else if (!evictable_.empty()) {
    block = evictable_.front();
    unlink_evictable(block);
    by_hash_.erase(*hash_of_[size_t(block)]);
    hash_of_[size_t(block)].reset();
  } else {
    return std::nullopt;
  }
  refcount_[size_t(block)] = 1;
  ++n_held_;
  return block;
}

std::optional<int32_t> BlockPool::take_cached(const BlockHash& hash) {
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return std::nullopt;
  const int32_t block = it->second;
  if (refcount_[size_t(block)]++ == 0) {
    unlink_evictable(block);
    ++n_held_;
  }
  return block;
}

void BlockPool::publish(int32_t block, const BlockHash& hash) {
  if (refcount_.at(size_t(block)) <= 0) throw std::logic_error("publishing a block nobody holds");
  if (hash_of_[size_t(block)] || by_hash_.count(hash)) return;  // same content already cached elsewhere
  hash_of_[size_t(block)] = hash;
  by_hash_.emplace(hash, block);
}

void BlockPool::release(int32_t block) {
  int32_t& rc = refcount_.at(size_t(block));
  if (rc <= 0) throw std::logic_error("releasing free block " + std::to_string(block));
  if (--rc > 0) return;
  --n_held_;
  if (hash_of_[size_t(block)]) {
    evictable_.push_back(block);
    evictable_pos_[size_t(block)] = std::prev(evictable_.end());
    in_evictable_[size_t(block)] = true;
  } else {
    free_.push_back(block);
  }
}

void BlockPool::unlink_evictable(int32_t block) {
  if (!in_evictable_[size_t(block)]) return;
  evictable_.erase(evictable_pos_[size_t(block)]);
  in_evictable_[size_t(block)] = false;
}

}  // namespace mmrt::engine
