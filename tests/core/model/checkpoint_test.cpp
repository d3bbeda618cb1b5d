// Checkpoint over the fixtures of tools/fixtures/make_safetensors_fixtures.py. Expected values come from the
// formulas that script used: value(i) = i * 0.25 - 3 for float tensors, 7 * i - 10 for integer ones.
#include "core/model/checkpoint.hpp"

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "core/model/model_error.hpp"

namespace {

using mmrt::model::Checkpoint;
using mmrt::model::DType;
using mmrt::model::ModelError;
using mmrt::model::TensorInfo;

const std::filesystem::path kFixtures = std::filesystem::path(MMRT_SOURCE_DIR) / "tests/fixtures/safetensors";

float float_value(std::size_t i) {
  return static_cast<float>(i) * 0.25f - 3.0f;
}
int64_t int_value(std::size_t i) {
  return 7 * static_cast<int64_t>(i) - 10;
}

std::vector<float> read_all(const Checkpoint& checkpoint, std::string_view name) {
  const TensorInfo& tensor = checkpoint.at(name);
  std::vector<float> values(tensor.numel());
  checkpoint.read_f32(tensor, values);
  return values;
}

template <typename T>
std::vector<T> raw_elements(const TensorInfo& tensor) {
  std::vector<T> values(tensor.nbytes / sizeof(T));
  std::memcpy(values.data(), tensor.data, tensor.nbytes);
  return values;
}

void check_formula(const std::vector<float>& values) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    CAPTURE(i);
    CHECK(values[i] == float_value(i));
  }
}

std::string open_error(const std::filesystem::path& dir) {
  try {
    Checkpoint::open(dir);
  } catch (const ModelError& error) {
    return error.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("single model.safetensors: names, dtypes and shapes as torch wrote them") {
  Checkpoint checkpoint = Checkpoint::open(kFixtures / "single");
  CHECK(checkpoint.names() == std::vector<std::string>{"bf16.powers", "empty", "f16.extremes", "linear.bias",
                                                       "linear.weight", "mask", "norm.weight", "positions",
                                                       "scalar"});
  CHECK(checkpoint.files().size() == 1);
  const TensorInfo& weight = checkpoint.at("linear.weight");
  CHECK(weight.dtype == DType::bf16);
  CHECK(weight.shape == std::vector<int64_t>{4, 5});
  CHECK(weight.nbytes == 40);
  CHECK(weight.file == kFixtures / "single/model.safetensors");
  CHECK(checkpoint.at("norm.weight").dtype == DType::f16);
  CHECK(checkpoint.at("linear.bias").dtype == DType::f32);
  CHECK(checkpoint.at("scalar").shape.empty());
  CHECK(checkpoint.at("empty").shape == std::vector<int64_t>{0, 4});
  CHECK(checkpoint.at("empty").nbytes == 0);
  CHECK(checkpoint.find("linear.weight") == &weight);
  CHECK(checkpoint.find("nope") == nullptr);
}

TEST_CASE("read_f32 returns bf16, f16 and f32 values exactly as written") {
  Checkpoint checkpoint = Checkpoint::open(kFixtures / "single");
  check_formula(read_all(checkpoint, "linear.weight"));
  check_formula(read_all(checkpoint, "norm.weight"));
  check_formula(read_all(checkpoint, "linear.bias"));
  CHECK(read_all(checkpoint, "scalar") == std::vector<float>{-3.0f});
  CHECK(read_all(checkpoint, "empty").empty());

  std::vector<float> powers = read_all(checkpoint, "bf16.powers");
  REQUIRE(powers.size() == 8);
  for (int i = 0; i < 8; ++i) CHECK(powers[i] == std::ldexp(i % 2 == 0 ? 1.0f : -1.0f, 16 * i - 60));

  std::vector<float> extremes = read_all(checkpoint, "f16.extremes");
  REQUIRE(extremes.size() == 10);
  for (int i = 0; i < 8; ++i) CHECK(extremes[i] == std::ldexp(static_cast<float>(i - 4), -24));
  CHECK(std::signbit(extremes[4]) == false);
  CHECK(extremes[8] == 65504.0f);
  CHECK(extremes[9] == -65504.0f);
}

TEST_CASE("integer tensors are readable through their raw bytes") {
  Checkpoint checkpoint = Checkpoint::open(kFixtures / "single");
  std::vector<int64_t> positions = raw_elements<int64_t>(checkpoint.at("positions"));
  REQUIRE(positions.size() == 6);
  for (std::size_t i = 0; i < positions.size(); ++i) CHECK(positions[i] == int_value(i));
  const TensorInfo& mask = checkpoint.at("mask");
  CHECK(mask.dtype == DType::i32);
  std::vector<int32_t> mask_values = raw_elements<int32_t>(mask);
  REQUIRE(mask_values.size() == 6);
  for (std::size_t i = 0; i < mask_values.size(); ++i) CHECK(mask_values[i] == int_value(i));
}

TEST_CASE("read_f32 refuses non-float dtypes and wrongly sized outputs, naming the tensor") {
  Checkpoint checkpoint = Checkpoint::open(kFixtures / "single");
  std::vector<float> six(6);
  CHECK_THROWS_WITH_AS(
      checkpoint.read_f32(checkpoint.at("positions"), six),
      doctest::Contains("tensor 'positions' has dtype I64; read_f32 reads only F32, F16 and BF16"),
      ModelError);
  std::vector<float> three(3);
  CHECK_THROWS_WITH_AS(checkpoint.read_f32(checkpoint.at("linear.bias"), three),
                       doctest::Contains("tensor 'linear.bias' has 5 elements but the output span holds 3"),
                       ModelError);
}

TEST_CASE("at() on an absent tensor names the tensor and the folder") {
  Checkpoint checkpoint = Checkpoint::open(kFixtures / "single");
  CHECK_THROWS_WITH_AS(
      checkpoint.at("lm_head.weight"),
      doctest::Contains(
          ((kFixtures / "single").string() + ": checkpoint has no tensor 'lm_head.weight'").c_str()),
      ModelError);
}

TEST_CASE("sharded checkpoint: the index maps each tensor to its shard") {
  Checkpoint checkpoint = Checkpoint::open(kFixtures / "sharded");
  CHECK(checkpoint.files().size() == 2);
  CHECK(checkpoint.names() ==
        std::vector<std::string>{"lm_head.weight", "model.embed_tokens.weight", "model.layers.0.mlp.weight"});
  CHECK(checkpoint.at("model.embed_tokens.weight").file.filename() == "model-00001-of-00002.safetensors");
  CHECK(checkpoint.at("model.layers.0.mlp.weight").file.filename() == "model-00001-of-00002.safetensors");
  CHECK(checkpoint.at("lm_head.weight").file.filename() == "model-00002-of-00002.safetensors");
  check_formula(read_all(checkpoint, "model.embed_tokens.weight"));
  check_formula(read_all(checkpoint, "model.layers.0.mlp.weight"));
  check_formula(read_all(checkpoint, "lm_head.weight"));
}

TEST_CASE("without an index or model.safetensors every *.safetensors file is loaded") {
  Checkpoint checkpoint = Checkpoint::open(kFixtures / "loose");
  CHECK(checkpoint.names() == std::vector<std::string>{"a.weight", "b.weight"});
  check_formula(read_all(checkpoint, "a.weight"));
  CHECK(raw_elements<int32_t>(checkpoint.at("b.weight")) == std::vector<int32_t>{-10, -3});
}

TEST_CASE("a moved Checkpoint still serves its tensors") {
  Checkpoint original = Checkpoint::open(kFixtures / "sharded");
  const TensorInfo* head = original.find("lm_head.weight");
  Checkpoint moved = std::move(original);
  CHECK(moved.find("lm_head.weight") == head);
  check_formula(read_all(moved, "lm_head.weight"));
}

TEST_CASE("every broken folder fails with one message naming the file and the tensor") {
  const std::filesystem::path folders = kFixtures / "corrupt_folders";
  SUBCASE("a shard named in the index is missing") {
    std::string message = open_error(folders / "missing_shard");
    CHECK(contains(message,
                   (folders / "missing_shard/model.safetensors.index.json").string() +
                       ": shard 'model-00002-of-00002.safetensors' (holding 'b' and 0 more tensors) is "
                       "missing from " +
                       (folders / "missing_shard").string()));
  }
  SUBCASE("the index lists a tensor its shard does not hold") {
    std::string message = open_error(folders / "index_lists_absent_tensor");
    CHECK(contains(message,
                   "model.safetensors.index.json: tensor 'ghost' is listed in shard "
                   "'model-00001-of-00002.safetensors', but "));
    CHECK(contains(message, "model-00001-of-00002.safetensors does not contain it"));
  }
  SUBCASE("a shard holds a tensor the index does not list") {
    std::string message = open_error(folders / "index_omits_tensor");
    CHECK(contains(message, "model-00001-of-00001.safetensors: tensor 'b' is not listed for this shard in "));
  }
  SUBCASE("the same tensor name in two files") {
    std::string message = open_error(folders / "duplicate_across_files");
    CHECK(contains(message, (folders / "duplicate_across_files").string() +
                                ": tensor 'w' is in both first.safetensors and second.safetensors"));
  }
  SUBCASE("an index that points outside the model folder") {
    std::string message = open_error(folders / "index_escapes_folder");
    CHECK(contains(message,
                   "tensor 'a' maps to shard '../single/model.safetensors', which is not a file inside "
                   "the model folder"));
  }
  SUBCASE("a folder without weights") {
    std::string message = open_error(folders / "no_weights");
    CHECK(
        contains(message, "no model.safetensors.index.json, model.safetensors or other *.safetensors file"));
  }
  SUBCASE("not a folder") {
    std::string message = open_error(kFixtures / "single/model.safetensors");
    CHECK(contains(message, "model.safetensors: not a directory"));
  }
  SUBCASE("a corrupt shard reports the shard's own defect") {
    // The folder holds only loose corrupt files; the first in name order is begin_after_end.safetensors.
    std::string message = open_error(kFixtures / "corrupt");
    CHECK(contains(message, (kFixtures / "corrupt/begin_after_end.safetensors").string() +
                                ": tensor 'w': data_offsets [8, 4]: begin is after end"));
  }
}
