// Reading lib<name>.mmrt.json: what mmrt_add_plugin writes parses, and every malformed field is named.
#include <fstream>
#include <string>

#include <doctest/doctest.h>

#include "core/plugin/manifest.hpp"
#include "scenario.hpp"

using mmrt::plugin::ManifestError;
using mmrt::plugin::read_manifest;

namespace {

const char kValid[] = R"({"id": "org.x.y", "version": "0.1.0", "library": "libx.so",
  "abi": {"major": 1, "built_minor": 2, "requires_host_minor": 1},
  "architectures": ["XForCausalLM", "XForConditionalGeneration"], "roles": ["mmrt.role.decoder/1"],
  "sha256": "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"})";

std::filesystem::path write_manifest(const std::string& text) {
  const auto dir = abi_test::fresh_scratch_dir("manifest");
  const auto file = dir / "libx.mmrt.json";
  std::ofstream(file) << text;
  return file;
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("a manifest written by mmrt_add_plugin parses") {
  const auto manifest = abi_test::manifest_of("good", "abi_test_good");
  CHECK(manifest.id == "org.mmrt.test.good");
  CHECK(manifest.version == "1.2.3");
  CHECK(manifest.library_path == abi_test::scenario_dir("good") / "libabi_test_good.so");
  CHECK(manifest.abi.major == 1);
  CHECK(manifest.architectures ==
        std::vector<std::string>{"GoodForCausalLM", "GoodForConditionalGeneration"});
  CHECK(manifest.roles == std::vector<std::string>{"mmrt.role.padder/1"});
  CHECK(manifest.sha256.size() == 64);
}

TEST_CASE("manifest fields are read as written; the digest is lowercased") {
  const auto file = write_manifest(kValid);
  const auto manifest = read_manifest(file);
  CHECK(manifest.abi.built_minor == 2);
  CHECK(manifest.abi.requires_host_minor == 1);
  CHECK(manifest.library_path == file.parent_path() / "libx.so");
  CHECK(manifest.sha256 == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("malformed manifests fail naming the file and the key") {
  struct Case {
    std::string text;
    std::string expected;
  };
  const Case cases[] = {
      {"{not json", "invalid JSON"},
      {replaced(kValid, R"("id": "org.x.y",)", ""), "id: required key is missing"},
      {replaced(kValid, R"("org.x.y")", R"("")"), "id: must not be empty"},
      {replaced(kValid, R"("libx.so")", R"("../elsewhere/libx.so")"), "library: must be a file name"},
      {replaced(kValid, R"("major": 1)", R"("major": -1)"), "abi.major: expected an integer in [0, 2^32)"},
      {replaced(kValid, R"("built_minor": 2)", R"("built_minor": "2")"),
       "abi.built_minor: expected an integer"},
      {replaced(kValid, R"(["XForCausalLM", "XForConditionalGeneration"])", "[]"),
       "architectures: must name at least one"},
      {replaced(kValid, R"(["XForCausalLM", "XForConditionalGeneration"])", "[1]"),
       "architectures: expected an array of non-empty strings"},
      {replaced(kValid, "E3B0C4", "Z3B0C4"), "sha256: expected 64 hex digits"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    const auto file = write_manifest(c.text);
    CHECK_THROWS_WITH_AS(read_manifest(file), doctest::Contains(file.string().c_str()), ManifestError);
    CHECK_THROWS_WITH_AS(read_manifest(file), doctest::Contains(c.expected.c_str()), ManifestError);
  }
}
