// Which remote hosts `mmrt serve` may fetch images from, and how much it may spend on one fetch. Guards
// against server-side request forgery: a client must not make the server reach a host the operator did not
// list, nor an internal address (loopback, private, link-local, metadata services) the operator did not name.
//
// Example: --remote-media-allow "images.example.com,*.cdn.example.net,127.0.0.1"
//   "images.example.com"   listed by name: allowed, even where it resolves to 10.0.0.7 (the operator named
//   it) "a.b.cdn.example.net"  matches the pattern: allowed only while every address it resolves to is public
//   "cdn.example.net"      refused: "*.cdn.example.net" covers the names below it, not the name itself
//   "127.0.0.1"            listed literally: allowed; "127.0.0.2", "10.0.0.7" or "localhost": refused
#pragma once

#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace mmrt::server {

// True for addresses that are not on the public internet: loopback, RFC 1918 private, link-local
// (169.254/16 holds cloud metadata services), carrier-grade NAT, unique-local and site-local IPv6,
// unspecified, multicast, reserved, and IPv6 forms that embed one of these IPv4 addresses (mapped,
// compatible, 6to4, NAT64).
bool is_internal_address(const boost::asio::ip::address& address);

// Immutable after construction; safe to share between the worker threads.
class HostAllowList {
 public:
  // Entries are host names, "*.suffix" patterns, or IPv4/IPv6 literals (IPv6 with or without brackets);
  // case and a trailing dot do not matter. Throws std::invalid_argument naming a malformed entry.
  explicit HostAllowList(const std::vector<std::string>& entries);

  bool empty() const { return names_.empty() && suffixes_.empty() && addresses_.empty(); }
  // `host` as parse_http_url returns it (lower-case, IPv6 without brackets). An IP literal matches only a
  // listed literal of the same address, never a pattern.
  bool allows_host(const std::string& host) const;
  // Whether `host`, already allowed, may connect to the internal `address`: only when the operator named
  // the host itself (not through a pattern) or listed the address.
  bool allows_internal(const std::string& host, const boost::asio::ip::address& address) const;

 private:
  std::vector<std::string> names_;                   // exact host names
  std::vector<std::string> suffixes_;                // ".cdn.example.net" for "*.cdn.example.net"
  std::vector<boost::asio::ip::address> addresses_;  // listed IP literals
};

struct RemoteMediaPolicy {
  HostAllowList allow_list{{}};    // empty allows nothing; mmrt serve refuses to start with it empty
  uint64_t max_bytes = 20u << 20;  // per image, the response body as received
  // Per image, from the first lookup to the last byte, redirects included.
  std::chrono::milliseconds timeout{10'000};
  int max_redirects = 3;
};

}  // namespace mmrt::server
