// The host services table plugins receive, called the way a plugin calls it: through the C function pointers.
#include <cstdint>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>

#include <doctest/doctest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "core/plugin/abi_window.hpp"
#include "core/plugin/host_api.hpp"
#include "core/plugin/status.hpp"

using namespace mmrt::plugin;

TEST_CASE("host table is versioned and every v1.0 slot is filled") {
  const MmrtHostApi* host = host_api();
  REQUIRE(host != nullptr);
  CHECK(host == host_api());
  CHECK(host->struct_size == MMRT_SIZEOF(MmrtHostApi, get_extension));
  CHECK(host->abi.major == MMRT_ABI_MAJOR);
  CHECK(host->abi.minor == MMRT_ABI_MINOR);
  CHECK(host->abi.required_minor == kOldestPluginMinor);
  CHECK((host->status_new != nullptr));
  CHECK((host->status_code != nullptr));
  CHECK((host->status_message != nullptr));
  CHECK((host->status_free != nullptr));
  CHECK((host->log != nullptr));
  CHECK((host->log_enabled != nullptr));
  CHECK((host->alloc != nullptr));
  CHECK((host->free != nullptr));
  CHECK((host->get_extension != nullptr));
}

TEST_CASE("status_new copies the message and throw_if_error surfaces it") {
  const MmrtHostApi* host = host_api();
  std::string text = "weights missing: lm_head.weight";
  MmrtStatus* status = host->status_new(MMRT_STATUS_NOT_FOUND, text.data(), text.size());
  text.assign(text.size(), 'x');  // the status must not point into the caller's buffer
  CHECK(host->status_code(status) == MMRT_STATUS_NOT_FOUND);
  CHECK(std::string(host->status_message(status)) == "weights missing: lm_head.weight");
  try {
    throw_if_error(status, "org.mmrt.test", "create");
    FAIL("throw_if_error returned for an error status");
  } catch (const PluginError& error) {
    CHECK(error.code() == MMRT_STATUS_NOT_FOUND);
    CHECK(error.plugin_id() == "org.mmrt.test");
    CHECK(error.message() == "create: weights missing: lm_head.weight");
    CHECK(std::string(error.what()) == "org.mmrt.test: create: weights missing: lm_head.weight [NOT_FOUND]");
  }
  CHECK_NOTHROW(throw_if_error(nullptr, "org.mmrt.test", "create"));
}

TEST_CASE("a status made with code OK cannot read as success") {
  MmrtStatus* status = host_api()->status_new(MMRT_STATUS_OK, "oops", 4);
  CHECK(host_api()->status_code(status) != MMRT_STATUS_OK);
  CHECK(std::string(host_api()->status_message(status)).find("oops") != std::string::npos);
  host_api()->status_free(status);
  CHECK(status_code_name(MMRT_STATUS_PLUGIN_INTERNAL) == "PLUGIN_INTERNAL");
  CHECK(status_code_name(77) == "code 77");
}

TEST_CASE("alloc gives aligned, writable CPU memory and refuses what it cannot serve") {
  const MmrtHostApi* host = host_api();
  const MmrtDevice cpu{MMRT_DEVICE_CPU, 0};
  for (uint64_t alignment : {0u, 8u, 64u, 4096u}) {
    void* memory = nullptr;
    REQUIRE(host->alloc(cpu, 1000, alignment, &memory) == nullptr);
    REQUIRE(memory != nullptr);
    const uint64_t expected = alignment == 0 ? 64 : alignment;
    CHECK(reinterpret_cast<uintptr_t>(memory) % expected == 0);
    std::memset(memory, 0xab, 1000);
    host->free(cpu, memory);
  }
  void* memory = reinterpret_cast<void*>(1);
  StatusPtr bad_alignment(host->alloc(cpu, 16, 48, &memory));
  REQUIRE(bad_alignment);
  CHECK(bad_alignment->code == MMRT_STATUS_INVALID_ARGUMENT);
  CHECK(memory == nullptr);

  StatusPtr huge(host->alloc(cpu, UINT64_MAX - 8, 64, &memory));
  REQUIRE(huge);
  CHECK(huge->code == MMRT_STATUS_RESOURCE_EXHAUSTED);

  StatusPtr cuda(host->alloc(MmrtDevice{MMRT_DEVICE_CUDA, 0}, 16, 64, &memory));
  REQUIRE(cuda);
  CHECK(cuda->code == MMRT_STATUS_UNAVAILABLE);
  CHECK(cuda->message.find("CUDA") != std::string::npos);
  host->free(cpu, nullptr);
}

TEST_CASE("get_extension finds registered tables by id and nothing else") {
  static const int kTable = 7;
  static const int kOtherTable = 8;
  register_host_extension("org.mmrt.test.host_api/1", &kTable);
  CHECK(host_api()->get_extension("org.mmrt.test.host_api/1") == &kTable);
  CHECK_NOTHROW(register_host_extension("org.mmrt.test.host_api/1", &kTable));
  CHECK_THROWS_WITH_AS(register_host_extension("org.mmrt.test.host_api/1", &kOtherTable),
                       doctest::Contains("org.mmrt.test.host_api/1"), std::invalid_argument);
  CHECK(host_api()->get_extension("org.mmrt.test.host_api/2") == nullptr);
  CHECK(host_api()->get_extension(nullptr) == nullptr);
}

TEST_CASE("plugin log lines go to spdlog, tagged with the plugin id") {
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  sink->set_pattern("%l %v");
  const auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  spdlog::set_level(spdlog::level::info);

  const MmrtHostApi* host = host_api();
  CHECK(host->log_enabled(MMRT_LOG_ERROR) == 1);
  CHECK(host->log_enabled(MMRT_LOG_DEBUG) == 0);
  const char unterminated[] = {'h', 'i', '!'};
  {
    PluginLogScope scope("org.mmrt.test.logger");
    host->log(MMRT_LOG_WARN, "/src/plugins/x/model.cpp", 42, unterminated, sizeof(unterminated));
  }
  host->log(MMRT_LOG_ERROR, nullptr, 0, "outside", 7);
  host->log(MMRT_LOG_DEBUG, nullptr, 0, "filtered", 8);
  spdlog::set_default_logger(previous);

  const std::string text = captured.str();
  CHECK(text.find("warning [org.mmrt.test.logger] model.cpp:42: hi!\n") != std::string::npos);
  CHECK(text.find("error [plugin] outside\n") != std::string::npos);
  CHECK(text.find("filtered") == std::string::npos);
}
