#include "host/server/cross_site_policy.hpp"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cctype>

namespace mmrt::server {

namespace {

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// "name:8000" -> "name"; "[::1]:8000" -> "::1"; an empty view when the header is malformed.
std::string_view host_name(std::string_view host) {
  if (host.starts_with('[')) {
    const size_t end = host.find(']');
    if (end == std::string_view::npos) return {};
    const std::string_view rest = host.substr(end + 1);
    if (!rest.empty() && !rest.starts_with(':')) return {};
    return host.substr(1, end - 1);
  }
  const size_t colon = host.rfind(':');
  if (colon == std::string_view::npos) return host;
  const std::string_view port = host.substr(colon + 1);
  if (!std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) return {};
  return host.substr(0, colon);
}

bool is_ip_literal(std::string_view name) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(std::string(name), ec);
  return !ec;
}

}  // namespace

bool CrossSitePolicy::host_allowed(std::string_view host_header) const {
  const std::string_view name = host_name(host_header);
  if (name.empty()) return false;
  if (is_ip_literal(name) || iequal(name, "localhost")) return true;
  return std::any_of(allowed_hosts.begin(), allowed_hosts.end(),
                     [&](const std::string& h) { return h == "*" || iequal(h, name); });
}

bool CrossSitePolicy::origin_allowed(std::string_view origin, std::string_view host_header) const {
  if (origin.empty()) return true;
  for (std::string_view scheme : {"http://", "https://"}) {
    if (origin.size() > scheme.size() && iequal(origin.substr(0, scheme.size()), scheme) &&
        iequal(origin.substr(scheme.size()), host_header)) {
      return true;
    }
  }
  return cors_allowed(origin);
}

bool CrossSitePolicy::cors_allowed(std::string_view origin) const {
  return !origin.empty() && std::any_of(allowed_origins.begin(), allowed_origins.end(),
                                        [&](const std::string& o) { return o == "*" || iequal(o, origin); });
}

}  // namespace mmrt::server
