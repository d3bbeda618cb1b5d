// Feeds arbitrary bytes to the JSON reader: it must either parse or throw sdk::Error, never crash or hang.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mmrt/json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    mmrt::sdk::json::parse(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  } catch (const mmrt::sdk::Error&) {
  }
  return 0;
}
