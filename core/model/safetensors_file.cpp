#include "core/model/safetensors_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include "core/model/model_error.hpp"

namespace mmrt::model {
namespace {

constexpr uint64_t kHeaderLengthBytes = 8;

std::string kind_name(const boost::json::value& value) {
  return std::string(boost::json::to_string(value.kind()));
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i == 0 ? "" : ", ") + std::to_string(shape[i]);
  return text + "]";
}

std::string range_string(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

// A JSON number that is a non-negative integer, or nullopt (negative, fractional, too large, not a number).
std::optional<uint64_t> as_size(const boost::json::value& value) {
  if (value.is_uint64()) return value.get_uint64();
  if (value.is_int64() && value.get_int64() >= 0) return static_cast<uint64_t>(value.get_int64());
  return std::nullopt;
}

// Checks one header entry and returns it with `data` pointing into the data section.
TensorInfo parse_tensor_entry(const std::string& name, const boost::json::value& entry,
                              const std::byte* data_section, uint64_t data_size,
                              const std::filesystem::path& file) {
  auto fail = [&](const std::string& message) {
    return ModelError(file.string() + ": tensor '" + name + "': " + message);
  };
  if (!entry.is_object()) {
    throw fail("header entry must be an object with dtype, shape and data_offsets, got " + kind_name(entry));
  }
  const boost::json::object& fields = entry.get_object();

  const boost::json::value* dtype_value = fields.if_contains("dtype");
  if (dtype_value == nullptr || !dtype_value->is_string()) throw fail("missing or non-string \"dtype\"");
  std::string dtype_text(dtype_value->get_string());
  std::optional<DType> dtype = dtype_from_name(dtype_text);
  if (!dtype) {
    throw fail("unsupported dtype '" + dtype_text +
               "' (mmrt reads F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL)");
  }

  const boost::json::value* shape_value = fields.if_contains("shape");
  if (shape_value == nullptr || !shape_value->is_array()) throw fail("missing or non-array \"shape\"");
  std::vector<int64_t> shape;
  uint64_t numel = 1;
  for (const boost::json::value& dim_value : shape_value->get_array()) {
    std::optional<uint64_t> dim = as_size(dim_value);
    if (!dim || *dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      throw fail("shape must hold non-negative integers, got " + boost::json::serialize(*shape_value));
    }
    if (__builtin_mul_overflow(numel, *dim, &numel))
      throw fail("shape " + boost::json::serialize(*shape_value) + " overflows");
    shape.push_back(static_cast<int64_t>(*dim));
  }
  uint64_t nbytes = 0;
  if (__builtin_mul_overflow(numel, dtype_size(*dtype), &nbytes)) {
    throw fail("shape " + shape_string(shape) + " overflows");
  }

  const boost::json::value* offsets_value = fields.if_contains("data_offsets");
  std::optional<uint64_t> begin, end;
  if (offsets_value != nullptr && offsets_value->is_array() && offsets_value->get_array().size() == 2) {
    begin = as_size(offsets_value->get_array()[0]);
    end = as_size(offsets_value->get_array()[1]);
  }
  if (!begin || !end) throw fail("\"data_offsets\" must be two non-negative integers [begin, end]");
  if (*begin > *end) throw fail("data_offsets " + range_string(*begin, *end) + ": begin is after end");
  if (*end > data_size) {
    throw fail("data_offsets " + range_string(*begin, *end) + " run past the end of the data section (" +
               std::to_string(data_size) + " bytes; is the file truncated?)");
  }
  if (*end - *begin != nbytes) {
    throw fail("data_offsets " + range_string(*begin, *end) + " hold " + std::to_string(*end - *begin) +
               " bytes but dtype " + dtype_text + " and shape " + shape_string(shape) + " need " +
               std::to_string(nbytes));
  }
  return TensorInfo{name, *dtype, std::move(shape), data_section + *begin, nbytes, file};
}

void check_metadata(const boost::json::value& metadata, const std::filesystem::path& file) {
  bool all_strings = metadata.is_object();
  if (all_strings) {
    for (const auto& item : metadata.get_object()) all_strings = all_strings && item.value().is_string();
  }
  if (!all_strings) throw ModelError(file.string() + ": \"__metadata__\" must be an object of strings");
}

// Tensors sorted by offset must tile [0, data_size) with no gap, overlap or trailing bytes.
void check_contiguous(const std::vector<TensorInfo>& tensors, const std::byte* data_section,
                      uint64_t data_size, const std::filesystem::path& file) {
  uint64_t covered_until = 0;
  const TensorInfo* previous = nullptr;
  for (const TensorInfo& tensor : tensors) {
    uint64_t begin = static_cast<uint64_t>(tensor.data - data_section);
    if (begin < covered_until) {
      throw ModelError(file.string() + ": tensor '" + tensor.name + "' data_offsets " +
                       range_string(begin, begin + tensor.nbytes) + " overlap tensor '" + previous->name +
                       "'");
    }
    if (begin > covered_until) {
      throw ModelError(file.string() + ": bytes " + range_string(covered_until, begin) +
                       " of the data section before tensor '" + tensor.name +
                       "' belong to no tensor (safetensors requires contiguous tensors)");
    }
    covered_until = begin + tensor.nbytes;
    previous = &tensor;
  }
  if (covered_until != data_size) {
    throw ModelError(file.string() + ": data section is " + std::to_string(data_size) +
                     " bytes but its tensors end at " + std::to_string(covered_until) +
                     " (trailing bytes belong to no tensor)");
  }
}

// Closes a file descriptor on every exit path of open().
struct FileDescriptor {
  int fd;
  ~FileDescriptor() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::vector<TensorInfo> SafetensorsFile::parse(std::span<const std::byte> bytes,
                                               const std::filesystem::path& file) {
  if (bytes.size() < kHeaderLengthBytes) {
    throw ModelError(file.string() + ": file is " + std::to_string(bytes.size()) +
                     " bytes, too short for the 8-byte header length of a safetensors file");
  }
  uint64_t header_size = 0;
  for (uint64_t i = 0; i < kHeaderLengthBytes; ++i) header_size |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  uint64_t after_length = bytes.size() - kHeaderLengthBytes;
  if (header_size > after_length) {
    throw ModelError(file.string() + ": header length " + std::to_string(header_size) +
                     " runs past the end of the file (" + std::to_string(bytes.size()) + " bytes)");
  }

  std::string_view header_text(reinterpret_cast<const char*>(bytes.data() + kHeaderLengthBytes), header_size);
  boost::system::error_code parse_error;
  boost::json::value header = boost::json::parse(header_text, parse_error);
  if (parse_error) throw ModelError(file.string() + ": header is not valid JSON: " + parse_error.message());
  if (!header.is_object())
    throw ModelError(file.string() + ": header is JSON " + kind_name(header) + ", not an object");

  const std::byte* data_section = bytes.data() + kHeaderLengthBytes + header_size;
  uint64_t data_size = after_length - header_size;
  std::vector<TensorInfo> tensors;
  for (const auto& item : header.get_object()) {
    std::string name(item.key());
    if (name == "__metadata__") {
      check_metadata(item.value(), file);
      continue;
    }
    tensors.push_back(parse_tensor_entry(name, item.value(), data_section, data_size, file));
  }
  std::stable_sort(tensors.begin(), tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.data != b.data ? a.data < b.data : a.nbytes < b.nbytes;
  });
  check_contiguous(tensors, data_section, data_size, file);
  return tensors;
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& file) {
  FileDescriptor descriptor{::open(file.c_str(), O_RDONLY | O_CLOEXEC)};
  if (descriptor.fd < 0) throw ModelError(file.string() + ": cannot open: " + std::strerror(errno));
  struct stat status {};
  if (::fstat(descriptor.fd, &status) != 0)
    throw ModelError(file.string() + ": cannot stat: " + std::strerror(errno));
  if (!S_ISREG(status.st_mode)) throw ModelError(file.string() + ": not a regular file");
  if (status.st_size == 0)
    throw ModelError(file.string() + ": file is empty (0 bytes), not a safetensors file");

  SafetensorsFile result;
  result.path_ = file;
  result.mapping_size_ = static_cast<std::size_t>(status.st_size);
  void* mapping = ::mmap(nullptr, result.mapping_size_, PROT_READ, MAP_PRIVATE, descriptor.fd, 0);
  if (mapping == MAP_FAILED) throw ModelError(file.string() + ": mmap failed: " + std::strerror(errno));
  result.mapping_ = mapping;
  result.tensors_ = parse({static_cast<const std::byte*>(mapping), result.mapping_size_}, file);
  spdlog::debug("mapped {}: {} tensors, {} bytes", file.string(), result.tensors_.size(),
                result.mapping_size_);
  return result;
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& other) noexcept
    : path_(std::move(other.path_)),
      mapping_(std::exchange(other.mapping_, nullptr)),
      mapping_size_(std::exchange(other.mapping_size_, 0)),
      tensors_(std::move(other.tensors_)) {}

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& other) noexcept {
  if (this != &other) {
    unmap();
    path_ = std::move(other.path_);
    mapping_ = std::exchange(other.mapping_, nullptr);
    mapping_size_ = std::exchange(other.mapping_size_, 0);
    tensors_ = std::move(other.tensors_);
  }
  return *this;
}

SafetensorsFile::~SafetensorsFile() {
  unmap();
}

void SafetensorsFile::unmap() noexcept {
  if (mapping_ != nullptr) ::munmap(mapping_, mapping_size_);
  mapping_ = nullptr;
  mapping_size_ = 0;
}

}  // namespace mmrt::model
