// A plugin built for ABI 1.1 on a host whose image table ends at minor 0: the SDK refuses it with a reason
// naming what is missing, instead of calling through a slot that is not there.
#include <doctest/doctest.h>

#include <cstring>

#include "mmrt/image/primitives.hpp"

namespace {

MmrtStatus* unused_preprocess(const char*, uint64_t, const MmrtImage*, MmrtProcessorOutput*) {
  return nullptr;
}
MmrtStatus* unused_fingerprint(const char*, uint64_t, char*, uint64_t, uint64_t*) {
  return nullptr;
}

}  // namespace

TEST_CASE("image primitives on a 1.0 host are refused with the reason") {
  MmrtImageApi minor0{};
  minor0.struct_size = MMRT_SIZEOF(MmrtImageApi, fingerprint);
  minor0.preprocess = &unused_preprocess;
  minor0.fingerprint = &unused_fingerprint;
  try {
    mmrt::sdk::image::Primitives px(&minor0);
    FAIL("a minor-0 image table was accepted");
  } catch (const mmrt::sdk::Error& e) {
    CHECK(e.code() == MMRT_STATUS_UNIMPLEMENTED);
    CHECK(std::strstr(e.what(), "lacks the image primitives of ABI 1.1") != nullptr);
  }
  CHECK_THROWS_AS(mmrt::sdk::image::Primitives(nullptr), mmrt::sdk::Error);
}
