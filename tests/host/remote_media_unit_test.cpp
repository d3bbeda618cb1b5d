// The remote-media guards without a remote host: URL parsing, redirect resolution, the allow-list, the
// internal-address check, and the refusals fetch_remote_image makes on loopback sockets of its own.
#include <doctest/doctest.h>

#include <boost/asio/ip/tcp.hpp>
#include <chrono>

#include "host/server/api_error.hpp"
#include "host/server/http_url.hpp"
#include "host/server/remote_fetch.hpp"
#include "host/server/remote_media_policy.hpp"

using namespace mmrt::server;
namespace ip = boost::asio::ip;

namespace {

bool internal(const char* text) {
  return is_internal_address(ip::make_address(text));
}

std::string error_code_of(const std::string& url, const RemoteMediaPolicy& policy) {
  try {
    fetch_remote_image(url, policy, "image_url");
  } catch (const ApiError& e) {
    CHECK(e.status() == 400);
    CHECK(e.param() == "image_url");
    return e.code();
  }
  FAIL("no ApiError thrown for " << url);
  return {};
}

RemoteMediaPolicy policy_allowing(const std::vector<std::string>& hosts) {
  RemoteMediaPolicy policy;
  policy.allow_list = HostAllowList(hosts);
  policy.timeout = std::chrono::milliseconds(300);
  return policy;
}

}  // namespace

TEST_CASE("http URLs parse strictly into scheme, host, port and target") {
  auto url = parse_http_url("HTTPS://Img.Example.COM.:8443/a/cat.png?s=1#top");
  REQUIRE(url);
  CHECK(url->scheme == HttpScheme::https);
  CHECK(url->host == "img.example.com");
  CHECK(url->port == 8443);
  CHECK(url->target == "/a/cat.png?s=1");
  CHECK(url->authority() == "img.example.com:8443");

  url = parse_http_url("http://example.com");
  REQUIRE(url);
  CHECK(url->port == 80);
  CHECK(url->target == "/");
  CHECK(url->authority() == "example.com");
  CHECK(parse_http_url("https://example.com?q")->target == "/?q");
  CHECK(parse_http_url("https://example.com")->port == 443);
  CHECK(parse_http_url("http://127.0.0.1/")->host == "127.0.0.1");
  CHECK(parse_http_url("http://img2.example.com/")->host == "img2.example.com");
  CHECK(parse_http_url("http://1.example.com/")->host == "1.example.com");

  url = parse_http_url("http://[::1]:8080/x");
  REQUIRE(url);
  CHECK(url->host == "::1");
  CHECK(url->authority() == "[::1]:8080");
  CHECK(url->str() == "http://[::1]:8080/x");
  CHECK(parse_http_url("http://[::FFFF:127.0.0.1]/")->host == "::ffff:127.0.0.1");

  for (const char* bad : {"ftp://example.com/x",
                          "file:///etc/passwd",
                          "http://",
                          "http:///x",
                          "http://user@example.com/",
                          "http://example.com@evil.com/",
                          "http://exa mple.com/",
                          "http://example.com/a b",
                          "http://example.com/\r\nX-Injected: 1",
                          "http://example.com\\@evil.com/",
                          "http://example.com:0/",
                          "http://example.com:65536/",
                          "http://example.com:/",
                          "http://example.com:80x/",
                          "http://::1/",
                          "http://[::1/",
                          "http://[fe80::1%25eth0]/",
                          "http://[:::::]/",
                          "http://[1.2.3.4]/",
                          "http://%65vil.com/",
                          "http://.example.com/",
                          "http://a..b/",
                          "http://a../",
                          "http://ex\xc3\xa4mple.com/",
                          "http://127.1/",
                          "http://0x7f.0.0.1/",
                          "http://2130706433/",
                          "http://127.0.0.01/",
                          "http://a.b.0x10/"}) {
    CHECK_MESSAGE(!parse_http_url(bad), bad);
  }
}

TEST_CASE("redirect locations resolve against the URL that answered") {
  const HttpUrl base = *parse_http_url("https://img.example.com:8443/a/b/cat.png?s=1");
  auto at = [&](const std::string& location) {
    auto url = resolve_redirect(base, location);
    return url ? url->str() : std::string("refused");
  };
  CHECK(at("http://other.example.com/x.png") == "http://other.example.com/x.png");
  CHECK(at("//cdn.example.com/x.png") == "https://cdn.example.com/x.png");
  CHECK(at("/x.png") == "https://img.example.com:8443/x.png");
  CHECK(at("dog.png") == "https://img.example.com:8443/a/b/dog.png");
  CHECK(at("../dog.png?v=2#frag") == "https://img.example.com:8443/a/dog.png?v=2");
  CHECK(at("../../../../dog.png") == "https://img.example.com:8443/dog.png");
  CHECK(at("./c/./d/../e.png") == "https://img.example.com:8443/a/b/c/e.png");
  CHECK(at("?v=3") == "https://img.example.com:8443/a/b/cat.png?v=3");
  CHECK(at("file:///etc/passwd") == "refused");
  CHECK(at("gopher://example.com/") == "refused");
  CHECK(at("http://user@example.com/") == "refused");
  CHECK(at("") == "refused");
}

TEST_CASE("internal addresses follow the IANA special-purpose registries") {
  // IPv4: loopback, RFC 1918, link-local (metadata), CGNAT, this-network, multicast, reserved, broadcast.
  for (const char* a :
       {"127.0.0.1", "127.255.255.254", "10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.255",
        "192.168.1.1", "169.254.169.254", "100.64.0.1", "100.127.255.255", "0.0.0.0", "0.1.2.3", "224.0.0.1",
        "239.255.255.255", "240.0.0.1", "255.255.255.255", "192.0.0.8", "198.18.0.1", "198.19.255.255"}) {
    CHECK_MESSAGE(internal(a), a);
  }
  for (const char* a : {"8.8.8.8", "1.1.1.1", "172.15.255.255", "172.32.0.0", "192.167.255.255",
                        "192.169.0.0", "100.63.255.255", "100.128.0.0", "169.253.255.255", "11.0.0.1",
                        "126.255.255.255", "128.0.0.1", "223.255.255.255", "198.17.255.255", "198.20.0.0"}) {
    CHECK_MESSAGE(!internal(a), a);
  }
  // IPv6: loopback, unspecified, link-local, unique-local, site-local, multicast, and embedded IPv4.
  for (const char* a : {"::1", "::", "fe80::1", "febf::1", "fc00::1", "fdff::1", "fec0::1", "ff02::1",
                        "::ffff:127.0.0.1", "::ffff:10.1.2.3", "::ffff:169.254.169.254", "::127.0.0.1",
                        "64:ff9b::a00:1", "2002:7f00:1::", "2002:c0a8:101::1", "100::1"}) {
    CHECK_MESSAGE(internal(a), a);
  }
  for (const char* a : {"2001:4860:4860::8888", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808",
                        "2002:808:808::1", "fe7f::1", "fb00::1"}) {
    CHECK_MESSAGE(!internal(a), a);
  }
}

TEST_CASE("the allow-list matches names, *.domain patterns and IP literals") {
  const HostAllowList list({"Images.Example.com.", "*.cdn.example.net", "127.0.0.1", "[::1]", "10.0.0.7"});
  CHECK(list.allows_host("images.example.com"));
  CHECK(list.allows_host("images.example.com."));
  CHECK(list.allows_host("a.cdn.example.net"));
  CHECK(list.allows_host("a.b.cdn.example.net"));
  CHECK_FALSE(list.allows_host("cdn.example.net"));  // a pattern covers the names below it only
  CHECK_FALSE(list.allows_host("xcdn.example.net"));
  CHECK_FALSE(list.allows_host("cdn.example.net.evil.com"));
  CHECK_FALSE(list.allows_host("example.com"));
  CHECK_FALSE(list.allows_host("images.example.com.evil.com"));
  CHECK(list.allows_host("127.0.0.1"));
  CHECK(list.allows_host("::1"));
  CHECK(list.allows_host("0:0::1"));  // the same address, written differently
  CHECK_FALSE(list.allows_host("127.0.0.2"));
  CHECK_FALSE(list.allows_host("::ffff:127.0.0.1"));
  CHECK_FALSE(list.allows_host("localhost"));

  // Internal addresses need the host named exactly, or the address itself listed.
  const auto loopback = ip::make_address("127.0.0.1");
  const auto private_address = ip::make_address("192.168.0.9");
  CHECK(list.allows_internal("images.example.com", private_address));
  CHECK_FALSE(list.allows_internal("a.cdn.example.net", private_address));
  CHECK(list.allows_internal("a.cdn.example.net", ip::make_address("10.0.0.7")));
  CHECK(list.allows_internal("127.0.0.1", loopback));
  CHECK(list.allows_internal("a.cdn.example.net", loopback));  // 127.0.0.1 is listed itself

  // A pattern never matches an IP literal, whatever its digits.
  const HostAllowList digits({"*.0.1", "*.example.com"});
  CHECK_FALSE(digits.allows_host("10.0.0.1"));

  CHECK(HostAllowList(std::vector<std::string>{}).empty());
  for (const char* bad : {"*", "*.", "*example.com", "exa mple.com", "a/b", "http://x.com", "*.1.2.3.4", "..",
                          "x..y", "", "*.*.com", "user@host"}) {
    CHECK_THROWS_AS_MESSAGE(HostAllowList({bad}), std::invalid_argument, bad);
  }
}

TEST_CASE("fetching refuses unlisted hosts and addresses before any connection") {
  const RemoteMediaPolicy policy = policy_allowing({"*.example.com", "images.example.org"});
  CHECK(error_code_of("http://evil.com/x.png", policy) == "remote_media_not_allowed");
  CHECK(error_code_of("http://example.com/x.png", policy) == "remote_media_not_allowed");
  CHECK(error_code_of("http://127.0.0.1/x.png", policy) == "remote_media_not_allowed");
  CHECK(error_code_of("http://169.254.169.254/latest/meta-data/", policy) == "remote_media_not_allowed");
  CHECK(error_code_of("http://[::ffff:127.0.0.1]/x.png", policy) == "remote_media_not_allowed");
  CHECK(error_code_of("http://a.example.com@127.0.0.1/x.png", policy) == "remote_media_not_allowed");
  CHECK(error_code_of("ftp://a.example.com/x.png", policy) == "remote_media_not_allowed");
}

TEST_CASE("fetching from loopback sockets: a closed port fails, a silent peer times out") {
  boost::asio::io_context ioc;
  // Bound but not listening: a connection is refused.
  ip::tcp::acceptor closed(ioc);
  closed.open(ip::tcp::v4());
  closed.bind(ip::tcp::endpoint(ip::make_address("127.0.0.1"), 0));
  const RemoteMediaPolicy policy = policy_allowing({"127.0.0.1"});
  const std::string closed_url = "http://127.0.0.1:" + std::to_string(closed.local_endpoint().port()) + "/x";
  CHECK(error_code_of(closed_url, policy) == "remote_media_fetch_failed");
  // localhost, named exactly, may resolve to loopback; reaching the connect proves the address passed.
  const std::string port = std::to_string(closed.local_endpoint().port());
  CHECK(error_code_of("http://localhost:" + port + "/x", policy_allowing({"localhost"})) ==
        "remote_media_fetch_failed");

  // Listening but never accepting: the kernel completes the handshake, no answer ever comes.
  ip::tcp::acceptor silent(ioc, ip::tcp::endpoint(ip::make_address("127.0.0.1"), 0));
  silent.listen();
  const std::string silent_url = "http://127.0.0.1:" + std::to_string(silent.local_endpoint().port()) + "/x";
  const auto start = std::chrono::steady_clock::now();
  CHECK(error_code_of(silent_url, policy) == "remote_media_timeout");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed >= std::chrono::milliseconds(250));
  CHECK(elapsed < std::chrono::seconds(3));
  CHECK(error_code_of("https" + silent_url.substr(4), policy) == "remote_media_timeout");
}
