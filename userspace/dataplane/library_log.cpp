// The libbpf/libxdp log bridge (library_log.h), and the errno text and map
// error helpers every dataplane file shares (bpf_map.h).
#include "userspace/dataplane/library_log.h"

#include <bpf/libbpf.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "userspace/dataplane/bpf_map.h"

namespace lb4 {

std::string errnoText(int err) { return std::strerror(err < 0 ? -err : err); }

namespace detail {

std::string mapError(std::string_view verb, const bpf_map* map, std::string_view what, int err) {
  if (what.empty()) {
    return fmt::format("{} map {}: {}", verb, bpf_map__name(map), errnoText(err));
  }
  return fmt::format("{} map {}: {}: {}", verb, bpf_map__name(map), what, errnoText(err));
}

int numCpus() {
  static const int n = libbpf_num_possible_cpus();
  return n;
}

int logLibraryMessage(std::string_view library, spdlog::level::level_enum level, const char* format,
                      va_list args) {
  char buf[2048];
  int n = std::vsnprintf(buf, sizeof(buf), format, args);
  if (n <= 0) {
    return 0;
  }
  std::string_view text(buf, std::min<size_t>(static_cast<size_t>(n), sizeof(buf) - 1));
  while (!text.empty() && text.back() == '\n') {
    text.remove_suffix(1);
  }
  if (text.starts_with(library) && text.substr(library.size()).starts_with(": ")) {
    text.remove_prefix(library.size() + 2);
  }
  spdlog::log(level, "{}: {}", library, text);
  return n;
}

namespace {

int libbpfPrint(enum libbpf_print_level level, const char* format, va_list args) {
  // libbpf's info level is chatty (e.g. libxdp's dispatcher probe): debug.
  return logLibraryMessage(
      "libbpf", level == LIBBPF_WARN ? spdlog::level::warn : spdlog::level::debug, format, args);
}

}  // namespace

void installLibbpfLogging() {
  static std::once_flag once;
  std::call_once(once, [] { libbpf_set_print(libbpfPrint); });
}

}  // namespace detail
}  // namespace lb4
