// The host's weight store: tensors in the compute dtype, in the checkpoint's own dtype as views of the
// mapping, or converted; and the mapping's pages released once a tensor has been copied out of it.
#include "core/backend/weights.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "core/backend/status.hpp"
#include "kernels/cpu/convert.hpp"

using namespace mmrt::backend;

namespace {

const MmrtDevice kCpu{MMRT_DEVICE_CPU, 0};
constexpr MmrtDataType kStored{0, 0, 0};

struct RawTensor {
  std::string name, dtype;
  std::vector<int64_t> shape;
  std::vector<std::byte> bytes;
};

template <typename T>
RawTensor raw(std::string name, std::string dtype, std::vector<int64_t> shape, const std::vector<T>& values) {
  RawTensor t{std::move(name), std::move(dtype), std::move(shape),
              std::vector<std::byte>(values.size() * sizeof(T))};
  std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

// A model folder with one model.safetensors holding `tensors` in order; the header is padded with spaces
// to `header_bytes` so a test chooses where the data section starts.
std::filesystem::path write_checkpoint(const std::string& tag, const std::vector<RawTensor>& tensors,
                                       size_t header_bytes) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("mmrt_weights_test_" + tag + "_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ostringstream header;
  header << "{";
  size_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const RawTensor& t = tensors[i];
    header << (i ? "," : "") << "\"" << t.name << "\":{\"dtype\":\"" << t.dtype << "\",\"shape\":[";
    for (size_t d = 0; d < t.shape.size(); ++d) header << (d ? "," : "") << t.shape[d];
    header << "],\"data_offsets\":[" << offset << "," << offset + t.bytes.size() << "]}";
    offset += t.bytes.size();
  }
  header << "}";
  std::string text = header.str();
  REQUIRE(text.size() <= header_bytes);
  text.resize(header_bytes, ' ');
  std::ofstream out(dir / "model.safetensors", std::ios::binary);
  const uint64_t length = text.size();
  out.write(reinterpret_cast<const char*>(&length), 8);
  out.write(text.data(), std::streamsize(text.size()));
  for (const RawTensor& t : tensors)
    out.write(reinterpret_cast<const char*>(t.bytes.data()), std::streamsize(t.bytes.size()));
  return dir;
}

std::vector<uint16_t> bf16_of(const std::vector<float>& values) {
  std::vector<uint16_t> out(values.size());
  mmrt::cpu::f32_to_bf16(values.data(), out.data(), int64_t(values.size()));
  return out;
}

std::vector<float> ramp(size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = float(int(i % 97) - 48) * 0.125f;  // exact in bf16
  return v;
}

// Resident bytes of the mapping that contains `address`, from /proc/self/smaps; -1 when none does.
long resident_bytes_of_mapping(const void* address) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  const auto at = reinterpret_cast<uintptr_t>(address);
  while (std::getline(smaps, line)) {
    unsigned long begin = 0, end = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &begin, &end) == 2) {
      inside = begin <= at && at < end;
    } else if (inside && line.rfind("Rss:", 0) == 0) {
      return std::stol(line.substr(4)) * 1024;
    }
  }
  return -1;
}

int32_t status_code(const std::function<void()>& f) {
  try {
    f();
  } catch (const StatusError& e) {
    return e.code();
  }
  return MMRT_STATUS_OK;
}

}  // namespace

TEST_CASE("the stored dtype is a view of the mapping; other dtypes are copies; all coexist") {
  const std::vector<float> values = ramp(64);
  const auto dir = write_checkpoint(
      "views",
      {raw("w", "BF16", {8, 8}, bf16_of(values)), raw("ids", "I64", {3}, std::vector<int64_t>{7, -1, 3})},
      120);
  const auto checkpoint = mmrt::model::Checkpoint::open(dir);
  WeightStore store(checkpoint, kCpu, kF32);

  const MmrtTensor& stored = store.get_as("w", kStored);
  CHECK(stored.dtype == kBF16);
  CHECK(stored.ndim == 2);
  CHECK(stored.shape[0] == 8);
  CHECK(static_cast<const void*>(stored.data) ==
        static_cast<const void*>(checkpoint.at("w").data));  // no copy
  CHECK(&store.get_as("w", kBF16) == &stored);               // asking by name gives the same view

  const MmrtTensor& f32 = store.get("w");
  CHECK(f32.dtype == kF32);
  CHECK(std::memcmp(f32.data, values.data(), values.size() * sizeof(float)) == 0);
  const MmrtTensor& f16 = store.get_as("w", kF16);
  std::vector<float> back(values.size());
  mmrt::cpu::f16_to_f32(static_cast<const uint16_t*>(f16.data), back.data(), int64_t(back.size()));
  CHECK(back == values);
  // The stored view still reads the checkpoint's bytes after the copies were made.
  CHECK(std::memcmp(stored.data, bf16_of(values).data(), values.size() * 2) == 0);

  const MmrtTensor& ids = store.get_as("ids", kStored);
  CHECK(ids.dtype == kI64);
  CHECK(static_cast<const int64_t*>(ids.data)[1] == -1);
  CHECK(status_code([&] { store.get_as("ids", kF32); }) == MMRT_STATUS_INVALID_ARGUMENT);
  CHECK(status_code([&] { store.get_as("w", kI32); }) == MMRT_STATUS_INVALID_ARGUMENT);
  CHECK(status_code([&] { store.get_as("absent", kStored); }) == MMRT_STATUS_NOT_FOUND);

  CHECK(store.unclaimed().empty());
  CHECK(store.bytes_mapped() == 64 * 2 + 3 * 8);
  CHECK(store.bytes_loaded() == 64 * 4 + 64 * 2);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a tensor not aligned to its elements in the file is copied, aligned") {
  const std::vector<float> values = ramp(10);
  // 8 + 121 header bytes put the data section at an odd offset of the file.
  const auto dir = write_checkpoint("unaligned", {raw("w", "BF16", {2, 5}, bf16_of(values))}, 121);
  const auto checkpoint = mmrt::model::Checkpoint::open(dir);
  REQUIRE(reinterpret_cast<uintptr_t>(checkpoint.at("w").data) % 2 == 1);
  WeightStore store(checkpoint, kCpu, kF32);
  const MmrtTensor& stored = store.get_as("w", kStored);
  CHECK(stored.dtype == kBF16);
  CHECK(reinterpret_cast<uintptr_t>(stored.data) % 2 == 0);
  CHECK(std::memcmp(stored.data, bf16_of(values).data(), values.size() * 2) == 0);
  CHECK(store.bytes_mapped() == 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a converted tensor's pages leave the process; a tensor used as stored stays mapped") {
  const size_t n = size_t(2) << 20;  // 4 MiB of bf16 each
  const std::vector<uint16_t> bits = bf16_of(ramp(n));
  const auto dir = write_checkpoint(
      "release", {raw("converted", "BF16", {int64_t(n)}, bits), raw("stored", "BF16", {int64_t(n)}, bits)},
      4088);  // data starts at a page boundary
  const auto checkpoint = mmrt::model::Checkpoint::open(dir);
  WeightStore store(checkpoint, kCpu, kF32);
  const std::byte* mapping = checkpoint.at("converted").data;

  store.get("converted");  // reads all of it, then releases it
  const long after_convert = resident_bytes_of_mapping(mapping);
  REQUIRE(after_convert >= 0);
  CHECK(after_convert < long(256 << 10));  // the header page and the kernel's fault-around neighbours

  const MmrtTensor& stored = store.get_as("stored", kStored);
  uint32_t sum = 0;
  for (size_t i = 0; i < n; i += 512)
    sum += static_cast<const uint16_t*>(stored.data)[i];  // touch every page
  CHECK(sum > 0);
  const long after_view = resident_bytes_of_mapping(mapping);
  CHECK(after_view >= long(n * 2));
  CHECK(after_view < long(n * 2 + (256 << 10)));
  std::filesystem::remove_all(dir);
}
