#include "host/server/remote_fetch.hpp"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdio>
#include <optional>

#include "host/server/api_error.hpp"
#include "host/server/http_url.hpp"

namespace mmrt::server {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr const char* kNotAllowed = "remote_media_not_allowed";
constexpr const char* kTooLarge = "remote_media_too_large";
constexpr const char* kTimeout = "remote_media_timeout";
constexpr const char* kFetchFailed = "remote_media_fetch_failed";

// Built once; OpenSSL allows one SSL_CTX to create connections on many threads once it is configured.
ssl::context& tls_client_context() {
  static ssl::context context = [] {
    ssl::context ctx(ssl::context::tls_client);
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                    ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    ctx.set_default_verify_paths();
    ctx.set_verify_mode(ssl::verify_peer);
    return ctx;
  }();
  return context;
}

void close_quietly(tcp::socket& socket) {
  beast::error_code ignored;
  socket.close(ignored);
}

bool is_redirect(unsigned status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// One request's answer before its body is judged: a redirect carries its Location, a 2xx its body.
struct Response {
  unsigned status = 0;
  std::string location;
  std::vector<uint8_t> body;
};

// One fetch with its redirects: the io_context its sockets run on and the deadline they share.
class RemoteFetch {
 public:
  RemoteFetch(const RemoteMediaPolicy& policy, const std::string& param)
      : policy_(policy), param_(param), deadline_(Clock::now() + policy.timeout) {}

  std::vector<uint8_t> run(const std::string& text) {
    auto url = parse_http_url(text);
    if (!url) {
      throw ApiError(
          400, "remote image URL is not a valid http(s) URL (user info, spaces and bad ports are refused)",
          param_, kNotAllowed);
    }
    for (int n_redirects = 0;; ++n_redirects) {
      Response response = fetch_once(*url);
      if (!is_redirect(response.status)) return std::move(response.body);
      if (n_redirects == policy_.max_redirects) {
        fail(kFetchFailed, *url, "more than " + std::to_string(policy_.max_redirects) + " redirects");
      }
      if (response.location.empty()) fail(kFetchFailed, *url, "a redirect without a Location header");
      auto next = resolve_redirect(*url, response.location);
      if (!next) fail(kNotAllowed, *url, "a redirect to a URL that is not http(s): " + response.location);
      url = std::move(next);
    }
  }

 private:
  [[noreturn]] void fail(const char* code, const HttpUrl& url, const std::string& reason) const {
    throw ApiError(400, "cannot fetch the remote image from host '" + url.host + "': " + reason, param_,
                   code);
  }

  // Runs the io_context until the operation started just before completes. At the deadline it calls
  // `cancel`, lets the aborted handler run (so nothing refers to the caller's stack afterwards) and throws.
  template <typename Cancel>
  void await(Cancel&& cancel, const HttpUrl& url) {
    ioc_.restart();
    ioc_.run_until(deadline_);
    if (ioc_.stopped()) return;
    cancel();
    ioc_.run();
    char limit[32];
    std::snprintf(limit, sizeof limit, "%.1f", double(policy_.timeout.count()) / 1000);
    fail(kTimeout, url, std::string("it took longer than the limit of ") + limit + " s");
  }

  tcp::resolver::results_type resolve(const HttpUrl& url) {
    if (!policy_.allow_list.allows_host(url.host))
      fail(kNotAllowed, url, "the host is not on --remote-media-allow");
    tcp::resolver resolver(ioc_);
    beast::error_code ec;
    tcp::resolver::results_type endpoints;
    resolver.async_resolve(url.host, std::to_string(url.port), tcp::resolver::numeric_service,
                           [&](beast::error_code e, tcp::resolver::results_type r) {
                             ec = e;
                             endpoints = std::move(r);
                           });
    await([&] { resolver.cancel(); }, url);
    if (ec) fail(kFetchFailed, url, "cannot resolve the host: " + ec.message());
    // Connecting only to the addresses checked here leaves no second lookup to rebind.
    for (const auto& entry : endpoints) {
      const auto address = entry.endpoint().address();
      if (is_internal_address(address) && !policy_.allow_list.allows_internal(url.host, address)) {
        fail(kNotAllowed, url,
             "it resolves to the internal address " + address.to_string() +
                 ", which --remote-media-allow does not name");
      }
    }
    return endpoints;
  }

  void connect(tcp::socket& socket, const tcp::resolver::results_type& endpoints, const HttpUrl& url) {
    beast::error_code ec;
    asio::async_connect(socket, endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
    await([&] { close_quietly(socket); }, url);
    if (ec) fail(kFetchFailed, url, "cannot connect: " + ec.message());
  }

  template <typename Stream>
  Response exchange(Stream& stream, tcp::socket& socket, const HttpUrl& url) {
    http::request<http::empty_body> request{http::verb::get, url.target, 11};
    request.set(http::field::host, url.authority());
    request.set(http::field::user_agent, "mmrt");
    request.set(http::field::accept, "image/*");
    request.set(http::field::connection, "close");
    beast::error_code ec;
    auto close = [&] { close_quietly(socket); };
    http::async_write(stream, request, [&](beast::error_code e, size_t) { ec = e; });
    await(close, url);
    if (ec) fail(kFetchFailed, url, "cannot send the request: " + ec.message());

    beast::flat_buffer buffer;
    http::response_parser<http::vector_body<uint8_t>> parser;
    parser.body_limit(boost::none);  // the size is judged below, once the status says a body is wanted
    http::async_read_header(stream, buffer, parser, [&](beast::error_code e, size_t) { ec = e; });
    await(close, url);
    if (ec) fail(kFetchFailed, url, "cannot read the response: " + ec.message());
    Response response;
    response.status = parser.get().result_int();
    if (is_redirect(response.status)) {
      response.location = std::string(parser.get()[http::field::location]);
      return response;
    }
    if (response.status < 200 || response.status > 299) {
      fail(kFetchFailed, url, "it answered HTTP " + std::to_string(response.status));
    }
    const std::string limit = "the limit of " + std::to_string(policy_.max_bytes) + " bytes";
    if (const auto length = parser.content_length(); length && *length > policy_.max_bytes) {
      fail(kTooLarge, url, "its Content-Length " + std::to_string(*length) + " is over " + limit);
    }
    parser.body_limit(policy_.max_bytes);
    http::async_read(stream, buffer, parser, [&](beast::error_code e, size_t) { ec = e; });
    await(close, url);
    if (ec == http::error::body_limit) fail(kTooLarge, url, "the body grew past " + limit);
    if (ec) fail(kFetchFailed, url, "cannot read the body: " + ec.message());
    response.body = std::move(parser.get().body());
    return response;
  }

  Response fetch_once(const HttpUrl& url) {
    const auto endpoints = resolve(url);
    switch (url.scheme) {
      case HttpScheme::http: {
        tcp::socket socket(ioc_);
        connect(socket, endpoints, url);
        return exchange(socket, socket, url);
      }
      case HttpScheme::https: {
        ssl::stream<tcp::socket> stream(ioc_, tls_client_context());
        connect(stream.next_layer(), endpoints, url);
        // SNI carries names only; an IP literal is verified against the certificate's IP entries.
        beast::error_code not_an_address;
        asio::ip::make_address(url.host, not_an_address);
        if (not_an_address && !SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str())) {
          fail(kFetchFailed, url, "cannot set the TLS server name");
        }
        stream.set_verify_callback(ssl::host_name_verification(url.host));
        beast::error_code ec;
        stream.async_handshake(ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
        await([&] { close_quietly(stream.next_layer()); }, url);
        if (ec) fail(kFetchFailed, url, "TLS handshake failed: " + ec.message());
        return exchange(stream, stream.next_layer(), url);
      }
    }
    fail(kNotAllowed, url, "unsupported scheme");
  }

  const RemoteMediaPolicy& policy_;
  const std::string& param_;
  const Clock::time_point deadline_;
  asio::io_context ioc_{1};
};

}  // namespace

std::vector<uint8_t> fetch_remote_image(const std::string& url, const RemoteMediaPolicy& policy,
                                        const std::string& param) {
  return RemoteFetch(policy, param).run(url);
}

}  // namespace mmrt::server
