// libFuzzer entry: any bytes as an image URL and as a redirect Location. Whatever parses must print back to
// itself, and its host and target must hold no byte that could split a request line or a header.
#include <cstddef>
#include <cstdint>
#include <string>

#include "host/server/http_url.hpp"

namespace {

using mmrt::server::HttpUrl;

void check(const HttpUrl& url) {
  for (char c : url.host + url.target) {
    const auto b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b >= 0x7f || c == '\\' || c == '#') __builtin_trap();
  }
  if (url.host.empty() || url.target.empty() || url.target[0] != '/' || url.port == 0) __builtin_trap();
  const auto again = mmrt::server::parse_http_url(url.str());
  if (!again || again->scheme != url.scheme || again->host != url.host || again->port != url.port ||
      again->target != url.target)
    __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (auto url = mmrt::server::parse_http_url(text)) check(*url);
  static const HttpUrl base = *mmrt::server::parse_http_url("https://img.example.com:8443/a/b/cat.png?s=1");
  if (auto url = mmrt::server::resolve_redirect(base, text)) check(*url);
  return 0;
}
