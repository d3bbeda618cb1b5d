// Bookkeeping of the paged KV cache's blocks: which are free, who holds them, and which full blocks are
// content-addressed for prefix reuse.
//
// A block is in one of three states: free (on the free list, no hash), held (refcount > 0), or cached
// (refcount 0 but still carrying a content hash, so a later request with the same prefix can take it
// back; cached blocks are evicted least-recently-released first when the free list runs dry).
// Not thread-safe: the engine loop is the only user.
#pragma once

#include <array>
#include <cstdint>
#include <list>
#include <optional>
#include <unordered_map>
#include <vector>

namespace mmrt::engine {

using BlockHash = std::array<uint64_t, 2>;  // 128 bits of SHA-256

struct BlockHashHasher {
  size_t operator()(const BlockHash& h) const { return size_t(h[0] ^ (h[1] * 0x9e3779b97f4a7c15ull)); }
};

class BlockPool {
 public:
  explicit BlockPool(int64_t n_blocks);

  int64_t n_blocks() const { return int64_t(refcount_.size()); }
  // Blocks that can be handed out now (free plus evictable cached ones).
  int64_t n_available() const { return int64_t(free_.size() + evictable_.size()); }
  // Blocks held by at least one sequence.
  int64_t n_held() const { return n_held_; }

  // A block for new content, evicting the oldest cached block when nothing is free. nullopt when every
  // block is held.
  std::optional<int32_t> allocate();
  // The cached block with this content, now held once more; nullopt on a miss.
  std::optional<int32_t> take_cached(const BlockHash& hash);
  // Records that a held block now holds full, final content with this hash.
  void publish(int32_t block, const BlockHash& hash);
  void release(int32_t block);

 private:
  void unlink_evictable(int32_t block);

  std::vector<int32_t> refcount_;
  std::vector<std::optional<BlockHash>> hash_of_;
  std::vector<int32_t> free_;
  std::list<int32_t> evictable_;  // cached blocks with refcount 0, oldest first
  std::vector<std::list<int32_t>::iterator> evictable_pos_;
  std::vector<bool> in_evictable_;
  std::unordered_map<BlockHash, int32_t, BlockHashHasher> by_hash_;
  int64_t n_held_ = 0;
};

}  // namespace mmrt::engine
