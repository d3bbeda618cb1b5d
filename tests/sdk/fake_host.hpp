// A minimal MmrtHostApi for SDK tests: statuses, host memory with counters, and no extensions.
#ifndef MMRT_TESTS_SDK_FAKE_HOST_HPP_
#define MMRT_TESTS_SDK_FAKE_HOST_HPP_

#include <mmrt_abi.h>

#include <cstdlib>
#include <string>

struct MmrtStatus {
  int32_t code;
  std::string message;
};

namespace mmrt::test {

struct FakeHost {
  static inline int64_t live_statuses = 0;
  static inline int64_t live_allocations = 0;

  static MmrtStatus* status_new(int32_t code, const char* msg, uint64_t len) {
    ++live_statuses;
    return new MmrtStatus{code, std::string(msg, len)};
  }
  static int32_t status_code(const MmrtStatus* s) { return s->code; }
  static const char* status_message(const MmrtStatus* s) { return s->message.c_str(); }
  static void status_free(MmrtStatus* s) {
    --live_statuses;
    delete s;
  }
  static MmrtStatus* alloc(MmrtDevice, uint64_t bytes, uint64_t alignment, void** out) {
    *out = std::aligned_alloc(alignment, (bytes + alignment - 1) / alignment * alignment);
    if (*out == nullptr) return status_new(MMRT_STATUS_RESOURCE_EXHAUSTED, "oom", 3);
    ++live_allocations;
    return nullptr;
  }
  static void free(MmrtDevice, void* p) {
    --live_allocations;
    std::free(p);
  }
  static const void* get_extension(const char*) { return nullptr; }

  // A host table of ABI `major`.`minor` that accepts plugins of minor >= required_minor.
  static MmrtHostApi table(uint32_t major = MMRT_ABI_MAJOR, uint32_t minor = MMRT_ABI_MINOR,
                           uint32_t required_minor = 0) {
    MmrtHostApi h{};
    h.struct_size = MMRT_SIZEOF(MmrtHostApi, get_extension);
    h.abi = {major, minor, required_minor};
    h.status_new = &status_new;
    h.status_code = &status_code;
    h.status_message = &status_message;
    h.status_free = &status_free;
    h.alloc = &alloc;
    h.free = &free;
    h.get_extension = &get_extension;
    return h;
  }
};

}  // namespace mmrt::test

#endif  // MMRT_TESTS_SDK_FAKE_HOST_HPP_
