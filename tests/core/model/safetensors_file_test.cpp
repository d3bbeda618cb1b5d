// SafetensorsFile: the format rules, one corrupt fixture per rule (written by
// tools/fixtures/make_safetensors_fixtures.py), and the in-memory parse() entry point.
#include "core/model/safetensors_file.hpp"

#include <cstring>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "core/model/model_error.hpp"

namespace {

using mmrt::model::DType;
using mmrt::model::ModelError;
using mmrt::model::SafetensorsFile;
using mmrt::model::TensorInfo;

const std::filesystem::path kFixtures = std::filesystem::path(MMRT_SOURCE_DIR) / "tests/fixtures/safetensors";

// The ModelError message that opening `file` produces, or "" when it opens.
std::string open_error(const std::filesystem::path& file) {
  try {
    SafetensorsFile::open(file);
  } catch (const ModelError& error) {
    return error.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// [8-byte little-endian length][header][data], as the format lays it out.
std::vector<std::byte> safetensors_bytes(const std::string& header, const std::vector<uint8_t>& data) {
  std::vector<std::byte> bytes(8 + header.size() + data.size());
  uint64_t length = header.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<std::byte>(length >> (8 * i));
  std::memcpy(bytes.data() + 8, header.data(), header.size());
  if (!data.empty()) std::memcpy(bytes.data() + 8 + header.size(), data.data(), data.size());
  return bytes;
}

}  // namespace

TEST_CASE("open maps a file written by safetensors.torch and lists its tensors in offset order") {
  SafetensorsFile file = SafetensorsFile::open(kFixtures / "single/model.safetensors");
  CHECK(file.path() == kFixtures / "single/model.safetensors");
  REQUIRE(file.tensors().size() == 9);
  for (std::size_t i = 1; i < file.tensors().size(); ++i) {
    CHECK(file.tensors()[i - 1].data + file.tensors()[i - 1].nbytes == file.tensors()[i].data);
  }
  for (const TensorInfo& tensor : file.tensors()) {
    CHECK(tensor.file == file.path());
    CHECK(tensor.nbytes == tensor.numel() * mmrt::model::dtype_size(tensor.dtype));
  }
}

TEST_CASE("a moved SafetensorsFile keeps its tensor pointers valid") {
  SafetensorsFile original = SafetensorsFile::open(kFixtures / "loose/part-a.safetensors");
  const std::byte* data = original.tensors().at(0).data;
  SafetensorsFile moved = std::move(original);
  REQUIRE(moved.tensors().size() == 1);
  CHECK(moved.tensors()[0].data == data);
  float first;
  std::memcpy(&first, moved.tensors()[0].data, sizeof first);
  CHECK(first == -3.0f);  // value(0) = 0 * 0.25 - 3
}

TEST_CASE("every corrupt file fails with one message naming the file and the defect") {
  struct Case {
    const char* file;
    const char* phrase;  // a part of the message that identifies the rule
    const char* tensor;  // the tensor the message must name, or "" when the defect is file-wide
  };
  const Case cases[] = {
      {"empty.safetensors", "empty", ""},
      {"short.safetensors", "too short", ""},
      {"truncated.safetensors", "bytes; is the file truncated?)", ""},
      {"header_length_past_end.safetensors", "header length 1099511627776 runs past the end", ""},
      {"header_not_json.safetensors", "header is not valid JSON", ""},
      {"header_not_object.safetensors", "not an object", ""},
      {"offsets_past_end.safetensors", "data_offsets [0, 64] run past the end of the data section (16 bytes",
       "w"},
      {"begin_after_end.safetensors", "begin is after end", "w"},
      {"byte_size_mismatch.safetensors", "hold 16 bytes but dtype F32 and shape [2, 3] need 24", "w"},
      {"overlap.safetensors", "overlap tensor 'a'", "b"},
      {"gap.safetensors", "bytes [4, 8] of the data section before tensor 'b' belong to no tensor", "b"},
      {"trailing_bytes.safetensors", "data section is 16 bytes but its tensors end at 8", ""},
      {"dtype_xyz.safetensors", "unsupported dtype 'XYZ'", "w"},
      {"dtype_f8_e4m3.safetensors", "unsupported dtype 'F8_E4M3'", "w"},
      {"negative_shape.safetensors", "shape must hold non-negative integers", "w"},
      {"metadata_not_strings.safetensors", "\"__metadata__\" must be an object of strings", ""},
  };
  for (const Case& c : cases) {
    std::string file = c.file;
    CAPTURE(file);
    std::string message = open_error(kFixtures / "corrupt" / c.file);
    CAPTURE(message);
    CHECK(contains(message, (kFixtures / "corrupt" / c.file).string() + ": "));
    CHECK(contains(message, c.phrase));
    if (*c.tensor != '\0') CHECK(contains(message, std::string("tensor '") + c.tensor + "'"));
  }
}

TEST_CASE("a missing file fails naming it") {
  std::string message = open_error(kFixtures / "no_such.safetensors");
  CHECK(contains(message, "no_such.safetensors: cannot open"));
}

TEST_CASE("parse reads an in-memory image the same way open reads a file") {
  SUBCASE("no tensors at all") {
    CHECK(SafetensorsFile::parse(safetensors_bytes("{}", {}), "m").empty());
  }
  SUBCASE("header padded with spaces, metadata, zero-size tensor and a scalar") {
    std::string header =
        R"({"__metadata__": {"format": "pt"}, "s": {"dtype": "I32", "shape": [], "data_offsets": [2, 6]},)"
        R"( "z": {"dtype": "F32", "shape": [0, 3], "data_offsets": [2, 2]},)"
        R"( "h": {"dtype": "BF16", "shape": [1], "data_offsets": [0, 2]}}    )";
    std::vector<std::byte> bytes = safetensors_bytes(header, {0x80, 0x3f, 42, 0, 0, 0});
    std::vector<TensorInfo> tensors = SafetensorsFile::parse(bytes, "m");
    REQUIRE(tensors.size() == 3);
    CHECK(tensors[0].name == "h");
    CHECK(tensors[0].dtype == DType::bf16);
    CHECK(tensors[0].data == bytes.data() + 8 + header.size());
    CHECK(tensors[1].name == "z");
    CHECK(tensors[1].nbytes == 0);
    CHECK(tensors[2].name == "s");
    CHECK(tensors[2].shape.empty());
    CHECK(tensors[2].numel() == 1);
    int32_t scalar;
    std::memcpy(&scalar, tensors[2].data, sizeof scalar);
    CHECK(scalar == 42);
  }
  SUBCASE("a fractional offset is rejected") {
    std::string header = R"({"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1.0]}})";
    CHECK_THROWS_WITH_AS(SafetensorsFile::parse(safetensors_bytes(header, {7}), "m"),
                         "m: tensor 'w': \"data_offsets\" must be two non-negative integers [begin, end]",
                         ModelError);
  }
  SUBCASE("a shape whose element count overflows is rejected") {
    std::string header =
        R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 4], "data_offsets": [0, 0]}})";
    CHECK_THROWS_WITH_AS(SafetensorsFile::parse(safetensors_bytes(header, {}), "m"),
                         doctest::Contains("overflows"), ModelError);
  }
  SUBCASE("a tensor name listed twice keeps its last entry, so the first entry's bytes are a gap") {
    std::string header = R"({"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},)"
                         R"( "w": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}})";
    CHECK_THROWS_WITH_AS(
        SafetensorsFile::parse(safetensors_bytes(header, {1, 2}), "m"),
        doctest::Contains("bytes [0, 1] of the data section before tensor 'w' belong to no tensor"),
        ModelError);
  }
}
