// libFuzzer target: lb4d's configuration parser (parseConfig). Any input
// must give a config or an error naming the file, never a crash, a hang or
// an exception; an accepted config must hold a valid desired state that
// survives the state file's JSON round trip.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "userspace/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto cfg = lb4::parseConfig(text, "fuzz.yaml");
  if (!cfg) {
    if (cfg.error().rfind("config fuzz.yaml", 0) != 0) {
      std::abort();  // every error names the file
    }
    return 0;
  }
  if (!cfg->initial.validate()) {
    std::abort();
  }
  auto back = lb4::DesiredState::fromJson(cfg->initial.toJson());
  if (!back || back->toJson() != cfg->initial.toJson()) {
    std::abort();
  }
  return 0;
}
