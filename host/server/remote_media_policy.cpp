#include "host/server/remote_media_policy.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>

namespace mmrt::server {

namespace {

namespace ip = boost::asio::ip;

struct Ipv4Block {
  uint32_t network;
  int prefix_len;
};

// IANA special-purpose IPv4 blocks that a public image host never uses.
constexpr Ipv4Block kInternalIpv4[] = {
    {0x00000000, 8},   // 0.0.0.0/8 "this network"
    {0x0A000000, 8},   // 10.0.0.0/8 private
    {0x64400000, 10},  // 100.64.0.0/10 carrier-grade NAT
    {0x7F000000, 8},   // 127.0.0.0/8 loopback
    {0xA9FE0000, 16},  // 169.254.0.0/16 link-local, cloud metadata
    {0xAC100000, 12},  // 172.16.0.0/12 private
    {0xC0000000, 24},  // 192.0.0.0/24 IETF protocol assignments
    {0xC0000200, 24},  // 192.0.2.0/24 documentation
    {0xC0A80000, 16},  // 192.168.0.0/16 private
    {0xC6120000, 15},  // 198.18.0.0/15 benchmarking
    {0xC6336400, 24},  // 198.51.100.0/24 documentation
    {0xCB007100, 24},  // 203.0.113.0/24 documentation
    {0xE0000000, 4},   // 224.0.0.0/4 multicast
    {0xF0000000, 4},   // 240.0.0.0/4 reserved, broadcast
};

bool is_internal_v4(const ip::address_v4& address) {
  const uint32_t value = address.to_uint();
  return std::any_of(std::begin(kInternalIpv4), std::end(kInternalIpv4), [&](const Ipv4Block& block) {
    const uint32_t mask = ~uint32_t(0) << (32 - block.prefix_len);
    return (value & mask) == block.network;
  });
}

ip::address_v4 v4_at(const ip::address_v6::bytes_type& bytes, size_t offset) {
  return ip::address_v4({bytes[offset], bytes[offset + 1], bytes[offset + 2], bytes[offset + 3]});
}

bool is_internal_v6(const ip::address_v6& address) {
  const auto b = address.to_bytes();
  if (address.is_unspecified() || address.is_loopback() || address.is_multicast()) return true;
  if (address.is_link_local() || address.is_site_local()) return true;  // fe80::/10, fec0::/10
  if ((b[0] & 0xfe) == 0xfc) return true;                               // fc00::/7 unique local
  if (address.is_v4_mapped()) return is_internal_v4(v4_at(b, 12));      // ::ffff:a.b.c.d
  const bool first_96_zero = std::all_of(b.begin(), b.begin() + 12, [](uint8_t x) { return x == 0; });
  if (first_96_zero) return is_internal_v4(v4_at(b, 12));  // ::a.b.c.d (deprecated)
  const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::equal(b.begin(), b.begin() + 12, nat64)) return is_internal_v4(v4_at(b, 12));  // 64:ff9b::/96
  if (b[0] == 0x20 && b[1] == 0x02) return is_internal_v4(v4_at(b, 2));                   // 2002::/16 6to4
  if (b[0] == 0x01 && b[1] == 0x00 &&
      std::all_of(b.begin() + 2, b.begin() + 8, [](uint8_t x) { return x == 0; }))
    return true;  // 100::/64 discard
  return false;
}

std::string normalized_name(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; });
  if (!name.empty() && name.back() == '.') name.pop_back();
  return name;
}

bool is_valid_host_name(const std::string& name) {
  if (name.empty() || name.front() == '.' || name.front() == '-') return false;
  if (name.find("..") != std::string::npos) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
  });
}

std::optional<ip::address> ip_literal(std::string text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  boost::system::error_code ec;
  const auto address = ip::make_address(text, ec);
  if (ec) return std::nullopt;
  return address;
}

}  // namespace

bool is_internal_address(const ip::address& address) {
  return address.is_v4() ? is_internal_v4(address.to_v4()) : is_internal_v6(address.to_v6());
}

HostAllowList::HostAllowList(const std::vector<std::string>& entries) {
  for (const auto& entry : entries) {
    const std::string name = normalized_name(entry);
    if (auto address = ip_literal(name)) {
      addresses_.push_back(*address);
    } else if (name.rfind("*.", 0) == 0) {
      const std::string suffix = name.substr(1);
      // A pattern over addresses ("*.1") would let a name such as "10.0.0.1" through.
      if (!is_valid_host_name(suffix.substr(1)) || ip_literal(suffix.substr(1))) {
        throw std::invalid_argument("remote media allow-list entry '" + entry +
                                    "' is not a valid '*.domain' pattern");
      }
      suffixes_.push_back(suffix);
    } else if (is_valid_host_name(name)) {
      names_.push_back(name);
    } else {
      throw std::invalid_argument("remote media allow-list entry '" + entry +
                                  "' is not a host name, '*.domain' pattern or IP address");
    }
  }
}

bool HostAllowList::allows_host(const std::string& host) const {
  if (auto address = ip_literal(host)) {
    return std::find(addresses_.begin(), addresses_.end(), *address) != addresses_.end();
  }
  const std::string name = normalized_name(host);
  if (std::find(names_.begin(), names_.end(), name) != names_.end()) return true;
  return std::any_of(suffixes_.begin(), suffixes_.end(), [&](const std::string& suffix) {
    return name.size() > suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  });
}

bool HostAllowList::allows_internal(const std::string& host, const ip::address& address) const {
  if (std::find(addresses_.begin(), addresses_.end(), address) != addresses_.end()) return true;
  if (ip_literal(host)) return false;
  const std::string name = normalized_name(host);
  return std::find(names_.begin(), names_.end(), name) != names_.end();
}

}  // namespace mmrt::server
