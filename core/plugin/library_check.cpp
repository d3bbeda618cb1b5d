#include "core/plugin/library_check.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include <boost/dll/library_info.hpp>

#include "plugin_api/mmrt_abi.h"

namespace mmrt::plugin {
namespace {

// The identifying part of an ELF header: e_ident's class (32/64-bit) and data (byte order), e_type and
// e_machine. Offsets are the same for ELF32 and ELF64.
struct ElfIdentity {
  uint8_t elf_class = 0;
  uint8_t byte_order = 0;
  uint16_t type = 0;
  uint16_t machine = 0;
};

constexpr uint16_t kElfTypeSharedObject = 3;  // ET_DYN

std::optional<ElfIdentity> read_elf_identity(const std::filesystem::path& file) {
  std::array<unsigned char, 20> header{};
  std::ifstream stream(file, std::ios::binary);
  if (!stream.read(reinterpret_cast<char*>(header.data()), header.size())) return std::nullopt;
  if (std::memcmp(header.data(),
                  "\x7f"
                  "ELF",
                  4) != 0) {
    return std::nullopt;
  }
  ElfIdentity identity;
  identity.elf_class = header[4];
  identity.byte_order = header[5];
  // Both fields are in the file's byte order; this host only loads files in its own order, which is checked
  // before they are compared.
  std::memcpy(&identity.type, header.data() + 16, 2);
  std::memcpy(&identity.machine, header.data() + 18, 2);
  return identity;
}

// The running executable's identity, so the check needs no per-architecture constants.
const std::optional<ElfIdentity>& host_identity() {
  static const std::optional<ElfIdentity> identity = read_elf_identity("/proc/self/exe");
  return identity;
}

}  // namespace

std::vector<std::string> exported_symbols(const std::filesystem::path& library) {
  try {
    boost::dll::library_info info(library);
    return info.symbols();
  } catch (const std::exception& error) {
    throw std::runtime_error(library.string() + ": cannot read the ELF symbol table: " + error.what());
  }
}

std::optional<std::string> inspect_plugin_library(const std::filesystem::path& library) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(library, error)) return "library file is missing";
  const std::optional<ElfIdentity> identity = read_elf_identity(library);
  if (!identity) return "not an ELF file";
  const std::optional<ElfIdentity>& host = host_identity();
  if (host && (identity->elf_class != host->elf_class || identity->byte_order != host->byte_order ||
               identity->machine != host->machine)) {
    return "ELF file for another machine (class " + std::to_string(identity->elf_class) + ", machine " +
           std::to_string(identity->machine) + "; this host is class " + std::to_string(host->elf_class) +
           ", machine " + std::to_string(host->machine) + ")";
  }
  if (identity->type != kElfTypeSharedObject) return "ELF file is not a shared object";
  try {
    const std::vector<std::string> symbols = exported_symbols(library);
    if (std::find(symbols.begin(), symbols.end(), MMRT_PLUGIN_ENTRY_SYMBOL) == symbols.end()) {
      return "does not export " MMRT_PLUGIN_ENTRY_SYMBOL;
    }
  } catch (const std::exception& read_error) {
    return std::string("corrupt ELF file: ") + read_error.what();
  }
  return std::nullopt;
}

}  // namespace mmrt::plugin
