// One .safetensors file, memory-mapped read-only and validated before any tensor is handed out.
//
// Layout: [8-byte little-endian header length N][N bytes of JSON header][data section]. The header maps each
// tensor name to {"dtype", "shape", "data_offsets": [begin, end]} with offsets relative to the data section,
// plus an optional "__metadata__" object of strings. For example
//   {"w": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 12]}}  ->  w's 12 bytes start at 8 + N.
// Like the reference Rust reader, tensors must tile the data section exactly: sorted by offset, each one
// begins where the previous ends, the first at 0 and the last at the end of the file. Gaps, overlaps and
// trailing bytes are errors, because a writer that leaves them is broken and the bytes could belong to
// another tensor. A name repeated in one header keeps its last entry (the reference reader's JSON map does
// the same); the bytes of the dropped entry then fail the contiguity check.
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>
#include <vector>

#include "core/model/tensor_info.hpp"

namespace mmrt::model {

// Owns one read-only MAP_PRIVATE mapping of a whole file and the tensor table pointing into it. Move-only;
// moving keeps every TensorInfo::data valid (the mapping itself does not move). Immutable after open(), so
// const access from many threads is safe.
class SafetensorsFile {
 public:
  // Maps and validates `file`; throws ModelError naming the file (and the tensor) on any defect.
  static SafetensorsFile open(const std::filesystem::path& file);
  // Validates a complete safetensors image held in memory and returns its tensors, sorted by data offset,
  // with `data` pointing into `bytes`. `file` only names the source in error messages. open() uses this too,
  // and the fuzz target calls it on arbitrary bytes.
  static std::vector<TensorInfo> parse(std::span<const std::byte> bytes, const std::filesystem::path& file);

  SafetensorsFile(SafetensorsFile&& other) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&& other) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile();

  const std::filesystem::path& path() const { return path_; }
  // Sorted by data offset.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }

 private:
  SafetensorsFile() = default;
  void unmap() noexcept;

  std::filesystem::path path_;
  void* mapping_ = nullptr;  // the whole file; nullptr once moved from
  std::size_t mapping_size_ = 0;
  std::vector<TensorInfo> tensors_;
};

}  // namespace mmrt::model
