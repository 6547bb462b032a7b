// Bridges libbpf's and libxdp's printf-style messages into spdlog, one line
// each, prefixed with the library's name.
#pragma once

#include <spdlog/spdlog.h>

#include <cstdarg>
#include <string_view>

namespace lb4::detail {

// Formats one library message and logs it at `level`; returns the length
// printed (the print callbacks' contract).
int logLibraryMessage(std::string_view library, spdlog::level::level_enum level, const char* format,
                      va_list args);

// Routes libbpf's messages through logLibraryMessage (once per process).
void installLibbpfLogging();

}  // namespace lb4::detail
