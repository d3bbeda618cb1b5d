#include "host/server/media_source.hpp"

#include <fstream>
#include <iterator>
#include <system_error>

#include "host/server/api_error.hpp"
#include "host/server/base64.hpp"
#include "host/server/remote_fetch.hpp"

namespace mmrt::server {

namespace {

bool starts_with(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

std::vector<uint8_t> load_data_url(const std::string& url, const MediaPolicy& policy,
                                   const std::string& param) {
  const size_t comma = url.find(',');
  if (comma == std::string::npos) throw ApiError(400, "data: URL has no ',' before its payload", param);
  const std::string header = url.substr(5, comma - 5);  // "image/png;base64"
  if (header.size() < 7 || header.compare(header.size() - 7, 7, ";base64") != 0) {
    throw ApiError(400, "data: URL must be base64-encoded (data:<mime>;base64,<payload>)", param);
  }
  const std::string_view payload(url.data() + comma + 1, url.size() - comma - 1);
  if (payload.size() / 4 * 3 > policy.max_bytes) {
    throw ApiError(400, "image is larger than the limit of " + std::to_string(policy.max_bytes) + " bytes",
                   param);
  }
  auto bytes = decode_base64(payload);
  if (!bytes) throw ApiError(400, "data: URL payload is not valid base64", param);
  if (bytes->empty()) throw ApiError(400, "data: URL payload is empty", param);
  return std::move(*bytes);
}

std::vector<uint8_t> load_local_file(const std::string& path_text, const MediaPolicy& policy,
                                     const std::string& param) {
  if (!policy.allowed_local_dir) {
    throw ApiError(
        400, "local files are not allowed (the server was started without --allowed-local-media-dir)", param);
  }
  std::error_code ec;
  const auto path = std::filesystem::weakly_canonical(path_text, ec);
  if (ec) throw ApiError(400, "cannot resolve local path " + path_text, param);
  // Compare whole path components so /srv/media2 is not inside /srv/media.
  auto dir_it = policy.allowed_local_dir->begin();
  auto path_it = path.begin();
  for (; dir_it != policy.allowed_local_dir->end(); ++dir_it, ++path_it) {
    if (dir_it->empty()) continue;  // a trailing separator
    if (path_it == path.end() || *path_it != *dir_it) {
      throw ApiError(400, "local path " + path_text + " is outside the allowed media directory", param);
    }
  }
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || !std::filesystem::is_regular_file(path))
    throw ApiError(400, "cannot read local file " + path_text, param);
  if (size > policy.max_bytes) {
    throw ApiError(400, "image is larger than the limit of " + std::to_string(policy.max_bytes) + " bytes",
                   param);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ApiError(400, "cannot read local file " + path_text, param);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

std::vector<uint8_t> load_image_url(const std::string& url, const MediaPolicy& policy,
                                    const std::string& param) {
  if (starts_with(url, "data:")) return load_data_url(url, policy, param);
  if (starts_with(url, "file://")) return load_local_file(url.substr(7), policy, param);
  if (starts_with(url, "/")) return load_local_file(url, policy, param);
  if (starts_with(url, "http://") || starts_with(url, "https://")) {
    if (!policy.remote) {
      throw ApiError(400,
                     "remote image URLs are not fetched by this server (started without "
                     "--allow-remote-media); send the image as a data: URL",
                     param, "remote_media_disabled");
    }
    return fetch_remote_image(url, *policy.remote, param);
  }
  throw ApiError(400, "unsupported image URL (expected data:, file:// or an absolute path)", param);
}

}  // namespace mmrt::server
