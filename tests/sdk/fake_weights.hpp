// An in-memory MmrtWeightsApi for tests: named tensors with shapes and no data (the code under test only
// reads descriptors). Records what was ignored.
#ifndef MMRT_TESTS_SDK_FAKE_WEIGHTS_HPP_
#define MMRT_TESTS_SDK_FAKE_WEIGHTS_HPP_

#include <mmrt_abi.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace mmrt::test {

struct FakeWeights {
  std::map<std::string, std::vector<int64_t>> shapes;  // sorted, as the ABI promises name_at to be
  std::set<std::string> ignored;
  MmrtDataType dtype{MMRT_DTYPE_FLOAT, 32, 1};
  MmrtDataType stored_dtype{MMRT_DTYPE_BFLOAT, 16, 1};  // what get_as({0, 0, 0}) answers (1.1 table)
  std::vector<std::string> stored_requests;             // names asked for through get_as

  MmrtWeights* handle() { return reinterpret_cast<MmrtWeights*>(this); }
  static FakeWeights& of(MmrtWeights* w) { return *reinterpret_cast<FakeWeights*>(w); }

  static MmrtStatus* get(MmrtWeights* w, const char* name, MmrtTensor* out) {
    auto& self = of(w);
    auto it = self.shapes.find(name);
    if (it == self.shapes.end()) return reinterpret_cast<MmrtStatus*>(1);  // never reached by these tests
    *out = MmrtTensor{};
    out->data = it->second.data();  // any non-NULL pointer
    out->device = {MMRT_DEVICE_CPU, 0};
    out->ndim = static_cast<int32_t>(it->second.size());
    out->dtype = self.dtype;
    out->shape = it->second.data();
    return nullptr;
  }
  static MmrtStatus* get_as(MmrtWeights* w, const char* name, MmrtDataType dtype, MmrtTensor* out) {
    auto& self = of(w);
    MmrtStatus* status = get(w, name, out);
    if (status) return status;
    const bool stored = dtype.code == 0 && dtype.bits == 0 && dtype.lanes == 0;
    out->dtype = stored ? self.stored_dtype : dtype;
    self.stored_requests.push_back(name);
    return nullptr;
  }
  static int32_t contains(MmrtWeights* w, const char* name) { return of(w).shapes.count(name) ? 1 : 0; }
  static uint64_t count(MmrtWeights* w) { return of(w).shapes.size(); }
  static const char* name_at(MmrtWeights* w, uint64_t i) {
    auto it = of(w).shapes.begin();
    std::advance(it, static_cast<long>(i));
    return it->first.c_str();
  }
  static void ignore(MmrtWeights* w, const char* name) { of(w).ignored.insert(name); }

  static const MmrtWeightsApi* api() {
    static const MmrtWeightsApi table = {
        MMRT_SIZEOF(MmrtWeightsApi, ignore), 0, nullptr, &get, &contains, &count, &name_at, &ignore};
    return &table;
  }
  // The same with the 1.1 get_as slot.
  static const MmrtWeightsApi* api_1_1() {
    static const MmrtWeightsApi table = {
        MMRT_SIZEOF(MmrtWeightsApi, get_as), 0, nullptr, &get, &contains, &count, &name_at, &ignore, &get_as};
    return &table;
  }
};

}  // namespace mmrt::test

#endif  // MMRT_TESTS_SDK_FAKE_WEIGHTS_HPP_
