// Where a request's image bytes come from: an image_url is a data: URL (base64), a local file inside the
// directory the operator allowed, or an http(s) URL, fetched only when the operator turned remote media on.
//
// Example: "data:image/png;base64,iVBORw0K..." -> the PNG's bytes; "file:///srv/media/cat.png" with
// --allowed-local-media-dir /srv/media -> the file's bytes; "/etc/passwd" or "file:///srv/media/../x" -> 400;
// "https://img.example.com/cat.png" -> 400 remote_media_disabled, or with --allow-remote-media and
// --remote-media-allow img.example.com the fetched bytes (see remote_fetch.hpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "host/server/remote_media_policy.hpp"

namespace mmrt::server {

struct MediaPolicy {
  std::optional<std::filesystem::path> allowed_local_dir;  // canonical; local files are refused without it
  size_t max_bytes = 32u << 20;                            // per image, after base64 decoding
  std::optional<RemoteMediaPolicy> remote;                 // http(s) URLs are refused without it
};

// Throws ApiError(400) naming `param` when the URL is malformed, refused by the policy or unreadable.
std::vector<uint8_t> load_image_url(const std::string& url, const MediaPolicy& policy,
                                    const std::string& param);

}  // namespace mmrt::server
