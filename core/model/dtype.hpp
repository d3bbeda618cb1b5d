// Element types a safetensors checkpoint may hold, as far as mmrt reads them.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace mmrt::model {

enum class DType { f32, f16, bf16, f64, i64, i32, i16, i8, u8, boolean };

// The safetensors spelling: "F32", "BF16", ..., "BOOL".
std::string_view dtype_name(DType dtype);
// Bytes per element (BOOL is one byte).
std::size_t dtype_size(DType dtype);
// Parses a safetensors dtype string; nullopt for the ones mmrt does not support (F8_E4M3, U16, ...).
std::optional<DType> dtype_from_name(std::string_view name);

}  // namespace mmrt::model
