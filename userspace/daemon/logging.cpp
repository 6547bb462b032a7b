#include "userspace/daemon/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <ctime>

namespace lb4 {
namespace {

// {"time":"...Z","level":"info","msg":"..."} per record. The message is
// escaped as JSON; bytes that are not UTF-8 become U+FFFD.
class JsonFormatter : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    auto since = msg.time.time_since_epoch();
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(since);
    auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since - secs).count();
    std::time_t t = static_cast<std::time_t>(secs.count());
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    auto level = spdlog::level::to_string_view(msg.level);
    nlohmann::json j = {{"time", fmt::format("{}.{:03}Z", stamp, millis)},
                        {"level", std::string(level.data(), level.size())},
                        {"msg", std::string(msg.payload.data(), msg.payload.size())}};
    std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    line += '\n';
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

void setupLogging(const std::string& format, const std::string& level) {
  spdlog::set_level(spdlog::level::from_str(level));
  if (format == "json") {
    spdlog::set_formatter(std::make_unique<JsonFormatter>());
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  }
}

nlohmann::json handleLogLevel(const Request& request) {
  auto before = spdlog::level::to_string_view(spdlog::get_level());
  std::string previous(before.data(), before.size());
  if (request.level && *request.level != previous) {
    spdlog::set_level(spdlog::level::from_str(*request.level));
    // At warn so that the change shows at every level but error.
    spdlog::warn("log level {} -> {} (log-level request)", previous, *request.level);
  }
  return {{"level", request.level.value_or(previous)}, {"previous", previous}};
}

}  // namespace lb4
