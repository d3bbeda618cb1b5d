#include "host/server/http_url.hpp"

#include <algorithm>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/address_v6.hpp>
#include <vector>

namespace mmrt::server {

namespace {

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c;
}

bool starts_with_nocase(const std::string& s, const char* prefix) {
  size_t i = 0;
  for (; prefix[i]; ++i) {
    if (i >= s.size() || lower(s[i]) != prefix[i]) return false;
  }
  return true;
}

// Bytes no part of an accepted URL may hold: they would let the request line or a header be split, or let
// another parser read a different host (backslash is a separator to WHATWG parsers).
bool has_forbidden_byte(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto b = static_cast<unsigned char>(c);
    return b <= 0x20 || b >= 0x7f || c == '\\';
  });
}

bool is_host_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

bool is_ipv6_literal_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == ':' || c == '.';
}

// WHATWG parsers and getaddrinfo both read a host whose last label is a number as IPv4 ("127.1",
// "0x7f.0.0.1", "2130706433" are all 127.0.0.1). Only the dotted-quad form is accepted, so that the
// allow-list compares the address the resolver will use.
bool is_non_canonical_ipv4(const std::string& host) {
  const std::string last = host.substr(host.rfind('.') + 1);
  const bool numeric =
      !last.empty() && (std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
                        last.rfind("0x", 0) == 0);
  if (!numeric) return false;
  boost::system::error_code ec;
  boost::asio::ip::make_address_v4(host, ec);
  return bool(ec);
}

// RFC 3986 section 5.2.4: "/a/b/../c/./d" -> "/a/c/d".
std::string remove_dot_segments(const std::string& path) {
  std::vector<std::string> kept;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    const std::string segment = path.substr(start, end - start);
    const bool last = end == path.size();
    if (segment == "..") {
      if (!kept.empty()) kept.pop_back();
      if (last) kept.emplace_back();
    } else if (segment == ".") {
      if (last) kept.emplace_back();
    } else {
      kept.push_back(segment);
    }
    start = end + 1;
  }
  std::string out;
  for (const auto& s : kept) out += "/" + s;
  return out.empty() ? "/" : out;
}

}  // namespace

std::string HttpUrl::authority() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  std::string out = ipv6 ? "[" + host + "]" : host;
  const uint16_t default_port = scheme == HttpScheme::https ? 443 : 80;
  if (port != default_port) out += ":" + std::to_string(port);
  return out;
}

std::string HttpUrl::str() const {
  return std::string(scheme == HttpScheme::https ? "https" : "http") + "://" + authority() + target;
}

std::optional<HttpUrl> parse_http_url(const std::string& text) {
  if (has_forbidden_byte(text)) return std::nullopt;
  HttpUrl url;
  size_t pos = 0;
  if (starts_with_nocase(text, "http://")) {
    url.scheme = HttpScheme::http;
    url.port = 80;
    pos = 7;
  } else if (starts_with_nocase(text, "https://")) {
    url.scheme = HttpScheme::https;
    url.port = 443;
    pos = 8;
  } else {
    return std::nullopt;
  }
  const size_t authority_end = std::min(text.find_first_of("/?#", pos), text.size());
  std::string authority = text.substr(pos, authority_end - pos);
  if (authority.find('@') != std::string::npos) return std::nullopt;
  for (char& c : authority) c = lower(c);

  std::string port_text;
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == std::string::npos) return std::nullopt;
    url.host = authority.substr(1, close - 1);
    boost::system::error_code not_ipv6;
    boost::asio::ip::make_address_v6(url.host, not_ipv6);
    // The character check keeps out zone ids ("fe80::1%eth0"), which make_address_v6 would accept.
    if (not_ipv6 || !std::all_of(url.host.begin(), url.host.end(), is_ipv6_literal_char)) return std::nullopt;
    const std::string rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return std::nullopt;
      port_text = rest.substr(1);
      if (port_text.empty()) return std::nullopt;
    }
  } else {
    const size_t colon = authority.find(':');
    url.host = authority.substr(0, colon);
    if (colon != std::string::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return std::nullopt;
    }
    if (!std::all_of(url.host.begin(), url.host.end(), is_host_name_char)) return std::nullopt;
    if (!url.host.empty() && url.host.back() == '.') url.host.pop_back();
    const bool empty_label = url.host.empty() || url.host.front() == '.' || url.host.back() == '.' ||
                             url.host.find("..") != std::string::npos;
    if (empty_label || is_non_canonical_ipv4(url.host)) return std::nullopt;
  }
  if (!port_text.empty()) {
    if (port_text.size() > 5 ||
        !std::all_of(port_text.begin(), port_text.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::nullopt;
    const int port = std::stoi(port_text);
    if (port < 1 || port > 65535) return std::nullopt;
    url.port = uint16_t(port);
  }

  std::string target = text.substr(authority_end);
  target = target.substr(0, target.find('#'));
  if (target.empty() || target[0] == '?') target = "/" + target;
  url.target = std::move(target);
  return url;
}

std::optional<HttpUrl> resolve_redirect(const HttpUrl& base, const std::string& location) {
  if (location.empty() || has_forbidden_byte(location)) return std::nullopt;
  if (location.rfind("//", 0) == 0) {
    return parse_http_url((base.scheme == HttpScheme::https ? "https:" : "http:") + location);
  }
  // A reference with a scheme of its own ("https:", "file:", "gopher:") is absolute.
  const size_t colon = location.find(':');
  if (colon != std::string::npos && colon < location.find_first_of("/?#")) return parse_http_url(location);

  HttpUrl out = base;
  const std::string reference = location.substr(0, location.find('#'));
  const std::string base_path = base.target.substr(0, base.target.find('?'));
  if (reference.empty()) return out;
  if (reference[0] == '?') {
    out.target = base_path + reference;
    return out;
  }
  const size_t query = reference.find('?');
  std::string path = reference.substr(0, query);
  const std::string query_text = query == std::string::npos ? "" : reference.substr(query);
  if (path[0] != '/') path = base_path.substr(0, base_path.rfind('/') + 1) + path;
  out.target = remove_dot_segments(path) + query_text;
  return out;
}

}  // namespace mmrt::server
