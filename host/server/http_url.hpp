// The http(s) URLs a remote image may be fetched from, parsed strictly so that no two readers (this parser,
// the allow-list, the resolver, the peer's HTTP server) can disagree on which host a URL names.
//
// Example: "https://Img.Example.com:8443/a/cat.png?s=1#top" -> {https, "img.example.com", 8443,
// "/a/cat.png?s=1"}; a redirect to "../dog.png" from it -> {https, "img.example.com", 8443, "/dog.png"}.
// Refused: user info ("http://a.com@b.com/"), backslashes, spaces or control bytes anywhere, a port of 0
// or above 65535, an empty host, and IPv4 in any form but dotted-quad ("127.1", "0x7f.0.0.1").
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace mmrt::server {

enum class HttpScheme { http, https };

struct HttpUrl {
  HttpScheme scheme = HttpScheme::http;
  std::string host;    // lower-case, no trailing dot; an IPv6 literal without its brackets
  uint16_t port = 80;  // the scheme's default when the URL names none
  std::string target;  // path and query, never empty ("/" at least); the fragment is dropped

  // "host" or "host:port" (brackets around IPv6) as the Host header and messages write it.
  std::string authority() const;
  std::string str() const;
};

// nullopt for anything that is not an absolute http:// or https:// URL accepted by the rules above.
std::optional<HttpUrl> parse_http_url(const std::string& text);

// The URL a Location header value points at, relative to `base` (absolute, scheme-relative "//host/x",
// absolute-path "/x" or relative "x"); nullopt when the result is not an http(s) URL.
std::optional<HttpUrl> resolve_redirect(const HttpUrl& base, const std::string& location);

}  // namespace mmrt::server
