// The plugin's NougatImageProcessor (composed from the host's image primitives) against Transformers'
// NougatImageProcessorPil: the Nougat cases of tests/fixtures/images (crop_margin, align_long_axis, resize,
// thumbnail, pad, normalize; tall, wide and tiny sources) and the pages of the Nougat fixtures.
#include <doctest/doctest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "config.hpp"
#include "fixture.hpp"
#include "processor.hpp"

namespace fs = std::filesystem;
using namespace mmrt;

namespace {

const fs::path kSource = test::kFixtureRoot;

std::vector<float> read_floats(const fs::path& p) {
  const std::string bytes = test::read_file(p);
  std::vector<float> values(bytes.size() / 4);
  std::memcpy(values.data(), bytes.data(), values.size() * 4);  // fixtures are little-endian, like the host
  return values;
}

}  // namespace

TEST_CASE("nougat processor: the image fixtures' Nougat cases match Transformers") {
  test::register_host();
  const boost::json::value manifest =
      boost::json::parse(test::read_file(kSource / "images" / "manifest.json"));
  std::map<std::string, std::unique_ptr<nougat::NougatProcessor>> processors;
  int n_cases = 0, n_exact = 0;
  for (const auto& v : manifest.at("process").as_array()) {
    const auto& entry = v.as_object();
    const std::string config(entry.at("config").as_string()), name(entry.at("case").as_string());
    if (!config.starts_with("nougat")) continue;
    CAPTURE(name);
    auto& processor = processors[config];
    if (!processor) {
      processor = std::make_unique<nougat::NougatProcessor>(
          nougat::parse_nougat_processor_config(
              test::read_file(kSource / "images" / "configs" / (config + ".json"))),
          nougat::SwinConfig{});
    }
    const test::ProcessedPage out = test::process_page(
        *processor, kSource / "images" / "sources" / std::string(entry.at("image").as_string()));
    CHECK(out.shape == boost::json::value_to<std::vector<int64_t>>(entry.at("shape")));
    const std::vector<float> expected = read_floats(kSource / "images" / "processed" / (name + ".f32"));
    REQUIRE(out.values.size() == expected.size());
    double max_diff = 0;
    for (size_t i = 0; i < expected.size(); ++i)
      max_diff = std::max(max_diff, double(std::abs(out.values[i] - expected[i])));
    CHECK(max_diff <= 0.02);  // one 8-bit level after normalisation; PNG sources are expected bit-exact
    n_exact += max_diff == 0;
    ++n_cases;
  }
  CHECK(n_cases == 8);
  MESSAGE("nougat processor: " << n_exact << "/" << n_cases << " cases bit-exact");
}

TEST_CASE("nougat processor: the fixture pages give Transformers' pixel_values and the encoder's row count") {
  test::register_host();
  const boost::json::value goldens = boost::json::parse(test::read_file(kSource / "nougat" / "goldens.json"));
  for (const auto& v : goldens.as_array()) {
    const auto& c = v.as_object();
    CAPTURE(std::string(c.at("name").as_string()));
    const fs::path dir = kSource / "nougat" / std::string(c.at("model").as_string());
    const std::string settings = test::processor_settings(dir);
    const nougat::NougatConfig config = nougat::parse_nougat_config(test::read_file(dir / "config.json"));
    nougat::NougatProcessor processor(nougat::parse_nougat_processor_config(settings), config.encoder);
    const test::ProcessedPage out = test::process_page(
        processor, kSource / "nougat" / std::string(c.at("images").as_array()[0].as_string()));
    const auto& want = c.at("pixel_values").as_object();
    CHECK(out.shape == boost::json::value_to<std::vector<int64_t>>(want.at("shape")));
    const auto& head = want.at("head").as_array();
    for (size_t i = 0; i < head.size(); ++i)
      CHECK(out.values[i] == doctest::Approx(head[i].to_number<double>()).epsilon(1e-6));
    double sum = 0;
    for (float x : out.values) sum += x;
    CHECK(sum == doctest::Approx(want.at("sum").to_number<double>()).epsilon(1e-6));
    CHECK(out.n_tokens == c.at("encoder_output").as_object().at("shape").as_array()[0].as_int64());
  }
}

TEST_CASE("nougat processor: the fingerprint names every setting") {
  test::register_host();
  nougat::NougatProcessor a(nougat::parse_nougat_processor_config(R"({"size": {"height": 64, "width": 48}})"),
                            nougat::SwinConfig{});
  nougat::NougatProcessor b(nougat::parse_nougat_processor_config(R"({"size": {"height": 64, "width": 48},
                                                                     "do_align_long_axis": true})"),
                            nougat::SwinConfig{});
  CHECK(std::string(a.fingerprint()).find("size=height=64,width=48") != std::string::npos);
  CHECK(std::string(a.fingerprint()) != b.fingerprint());
}
