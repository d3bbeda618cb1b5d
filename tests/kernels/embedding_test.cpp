// embedding: row gather, and strict id checking before any write.
#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernel_test_util.hpp"
#include "kernels/cpu/convert.hpp"
#include "kernels/cpu/embedding.hpp"

TEST_CASE("embedding copies the table row of every id") {
  const int64_t vocab = 37, dim = 7;
  const std::vector<float> table = mmrt::cpu::test::random_normal(vocab * dim, 3);
  const std::vector<int32_t> ids = {0, 36, 5, 5, 17};
  std::vector<float> out(ids.size() * dim);
  mmrt::cpu::embedding(table.data(), mmrt::cpu::WeightType::f32, vocab, dim, ids.data(),
                       static_cast<int64_t>(ids.size()), out.data());
  for (size_t i = 0; i < ids.size(); ++i) {
    for (int64_t d = 0; d < dim; ++d) CHECK(out[i * dim + d] == table[ids[i] * dim + d]);
  }
}

TEST_CASE("embedding widens bf16 and f16 tables exactly") {
  using mmrt::cpu::WeightType;
  const int64_t vocab = 11, dim = 13;
  const std::vector<float> values = mmrt::cpu::test::random_normal(vocab * dim, 4);
  const std::vector<int32_t> ids = {10, 0, 3};
  for (WeightType type : {WeightType::bf16, WeightType::f16}) {
    std::vector<uint16_t> table(values.size());
    std::vector<float> exact(values.size());
    if (type == WeightType::bf16) {
      mmrt::cpu::f32_to_bf16(values.data(), table.data(), vocab * dim);
      mmrt::cpu::bf16_to_f32(table.data(), exact.data(), vocab * dim);
    } else {
      mmrt::cpu::f32_to_f16(values.data(), table.data(), vocab * dim);
      mmrt::cpu::f16_to_f32(table.data(), exact.data(), vocab * dim);
    }
    std::vector<float> out(ids.size() * dim, NAN);
    mmrt::cpu::embedding(table.data(), type, vocab, dim, ids.data(), 3, out.data());
    for (size_t i = 0; i < ids.size(); ++i) {
      for (int64_t d = 0; d < dim; ++d) CHECK(out[i * dim + d] == exact[ids[i] * dim + d]);
    }
  }
}

TEST_CASE("embedding rejects an out-of-range id, naming it, and writes nothing") {
  const int64_t vocab = 4, dim = 2;
  const std::vector<float> table(vocab * dim, 1.0f);
  for (int32_t bad : {4, -1, 1000000}) {
    const std::vector<int32_t> ids = {1, bad, 2};
    std::vector<float> out(ids.size() * dim, -7.0f);
    std::string message;
    try {
      mmrt::cpu::embedding(table.data(), mmrt::cpu::WeightType::f32, vocab, dim, ids.data(), 3, out.data());
    } catch (const std::out_of_range& e) {
      message = e.what();
    }
    INFO("message: " << message);
    CHECK(message.find("token id " + std::to_string(bad)) != std::string::npos);
    CHECK(message.find("position 1") != std::string::npos);
    CHECK(out == std::vector<float>(ids.size() * dim, -7.0f));
  }
}
