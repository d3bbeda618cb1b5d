#pragma once
// A string -> id hash map that can be probed with a string_view, and a bounded per-piece result cache.

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mmrt::text {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

using VocabMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

// Maps a piece to its ids. Stops growing at `capacity` entries (the common words of a corpus arrive
// first). Thread-safe: a mutex guards the map.
class PieceCache {
 public:
  explicit PieceCache(size_t capacity) : capacity_(capacity) {}

  // Appends the cached ids of `piece` to `out` and returns true on a hit.
  bool lookup(std::string_view piece, std::vector<int32_t>& out) const {
    std::lock_guard lock(mutex_);
    const auto it = map_.find(piece);
    if (it == map_.end()) return false;
    out.insert(out.end(), it->second.begin(), it->second.end());
    return true;
  }
  void insert(std::string_view piece, const int32_t* ids, size_t n_ids) const {
    if (piece.size() > kMaxPieceBytes) return;
    std::lock_guard lock(mutex_);
    if (map_.size() >= capacity_) return;
    map_.emplace(std::string(piece), std::vector<int32_t>(ids, ids + n_ids));
  }

 private:
  static constexpr size_t kMaxPieceBytes = 256;
  size_t capacity_;
  mutable std::mutex mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> map_;
};

}  // namespace mmrt::text
