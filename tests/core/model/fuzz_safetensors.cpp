// Arbitrary bytes as a safetensors file: parse() must either return tensors that lie inside the input or
// throw ModelError, never crash, read out of bounds or throw anything else.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "core/model/model_error.hpp"
#include "core/model/safetensors_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  try {
    for (const mmrt::model::TensorInfo& tensor : mmrt::model::SafetensorsFile::parse(bytes, "fuzz-input")) {
      bool inside = tensor.data >= bytes.data() && tensor.nbytes <= size &&
                    tensor.data + tensor.nbytes <= bytes.data() + size &&
                    tensor.nbytes == tensor.numel() * mmrt::model::dtype_size(tensor.dtype);
      if (!inside) std::abort();
      // Touch the first and last byte so ASan checks the bounds too.
      if (tensor.nbytes > 0) {
        volatile std::byte first = tensor.data[0];
        volatile std::byte last = tensor.data[tensor.nbytes - 1];
        (void)first;
        (void)last;
      }
    }
  } catch (const mmrt::model::ModelError&) {
  }
  return 0;
}
