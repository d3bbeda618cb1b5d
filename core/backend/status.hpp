// The exception that carries an ABI status code through host code, and the boundary that turns it
// (or any other exception) into an MmrtStatus for the plugin that called a host table slot.
#pragma once

#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>

#include "plugin_api/mmrt_abi.h"

namespace mmrt::backend {

// Thrown by host code that must report an ABI status code; the kernel and service tables catch it at
// their boundary and turn it into an MmrtStatus.
class StatusError : public std::runtime_error {
 public:
  StatusError(int32_t code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int32_t code() const { return code_; }

 private:
  int32_t code_;
};

// A host-created status (MmrtHostApi.status_new), owned by whoever receives it.
MmrtStatus* make_status(int32_t code, const std::string& message);

// Runs `body` and converts any exception into a status (NULL on success). Every host table slot the
// plugins call goes through this, so no exception ever reaches plugin frames.
template <typename Body>
MmrtStatus* status_boundary(const char* what, Body&& body) noexcept {
  try {
    body();
    return nullptr;
  } catch (const StatusError& e) {
    return make_status(e.code(), std::string(what) + ": " + e.what());
  } catch (const std::out_of_range& e) {
    return make_status(MMRT_STATUS_OUT_OF_RANGE, std::string(what) + ": " + e.what());
  } catch (const std::invalid_argument& e) {
    return make_status(MMRT_STATUS_INVALID_ARGUMENT, std::string(what) + ": " + e.what());
  } catch (const std::bad_alloc&) {
    return make_status(MMRT_STATUS_RESOURCE_EXHAUSTED, std::string(what) + ": out of memory");
  } catch (const std::exception& e) {
    return make_status(MMRT_STATUS_INTERNAL, std::string(what) + ": " + e.what());
  } catch (...) {
    return make_status(MMRT_STATUS_INTERNAL, std::string(what) + ": unknown exception");
  }
}

}  // namespace mmrt::backend
