// Which Host and Origin headers the server answers, so that a web page the user visits cannot drive a
// server on localhost: a page on attacker.example that rebinds its name to 127.0.0.1 still sends
// "Host: attacker.example" (refused), and a cross-site fetch carries an Origin that is neither ours nor on
// --allowed-origins (refused; its CORS preflight gets no Access-Control-Allow-Origin).
//
// Host: an IP literal (with or without port) and "localhost" are always accepted, since a page can only
// reach them under that same name; any other name must be on --allowed-hosts ("*" accepts every name).
// Origin: absent, the server's own origin (same host and port as Host), or on --allowed-origins, compared
// case-insensitively as "scheme://host[:port]" ("*" allows every origin).
//
// Immutable after construction; safe to share between threads.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mmrt::server {

struct CrossSitePolicy {
  std::vector<std::string> allowed_hosts;
  std::vector<std::string> allowed_origins;  // empty: CORS off

  bool host_allowed(std::string_view host_header) const;
  // The Origin of a request whose Host header is `host_header` (an empty origin is allowed).
  bool origin_allowed(std::string_view origin, std::string_view host_header) const;
  // Whether a cross-origin reader may see responses (CORS): the origin is on --allowed-origins.
  bool cors_allowed(std::string_view origin) const;
};

}  // namespace mmrt::server
