// Fetches one image_url over http or https under a RemoteMediaPolicy (HTTP/1.1 GET with Boost.Beast,
// TLS through OpenSSL with the system's CA store, SNI and host name verification).
//
// Example: "https://img.example.com/cat.png" with --remote-media-allow img.example.com -> check the host
// against the allow-list, resolve it, refuse internal addresses the list does not name, connect, verify the
// certificate, send GET, follow at most 3 redirects (each checked the same way), refuse a Content-Length
// over the limit, count the body while reading, and return the bytes; all of it within one deadline.
//
// Threading: blocking; each call owns its io_context and sockets, so concurrent calls on the server's
// worker threads share nothing but the read-only TLS client context.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "host/server/remote_media_policy.hpp"

namespace mmrt::server {

// Throws ApiError(400) naming `param`, with code remote_media_not_allowed (bad URL, scheme, host or address),
// remote_media_too_large, remote_media_timeout or remote_media_fetch_failed (DNS, connect, TLS, a non-2xx
// status, too many redirects). The message names the URL's host.
//
// The deadline covers connect, TLS, redirects and the body. A DNS lookup cannot be interrupted: one that
// hangs ends when the system resolver gives up, and the fetch then fails with remote_media_timeout.
std::vector<uint8_t> fetch_remote_image(const std::string& url, const RemoteMediaPolicy& policy,
                                        const std::string& param);

}  // namespace mmrt::server
