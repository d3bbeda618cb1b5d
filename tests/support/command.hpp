// Helpers for tests that drive the real `mmrt` executable: quoting, running a command, reading JSON.
#pragma once

#include <doctest/doctest.h>

#include <sys/wait.h>
#include <array>
#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace mmrt::test {

inline const std::filesystem::path kSourceDir(MMRT_SOURCE_DIR);
inline const std::filesystem::path kMmrt = std::filesystem::path(MMRT_BINARY_DIR) / "bin" / "mmrt";
inline const std::filesystem::path kPluginDir =
    std::filesystem::path(MMRT_BINARY_DIR) / "lib" / "mmrt" / "plugins";

// A single-quoted shell word.
inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct CommandResult {
  int exit_code;  // -1 when the command did not exit normally (a crash)
  std::string out;
};

// Runs `cmd` with /bin/sh and returns its exit code and stdout.
inline CommandResult run_command(const std::string& cmd) {
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

inline boost::json::value read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  REQUIRE_MESSAGE(in.good(), "cannot open " << p);
  std::stringstream s;
  s << in.rdbuf();
  return boost::json::parse(s.str());
}

}  // namespace mmrt::test
