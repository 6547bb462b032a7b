// libFuzzer target: the control API's request parser (parseRequest, what
// lb4d runs on every line a client sends) and reply parser (parseReply,
// what lb4ctl runs on the daemon's answer). Any input must give a request
// or a "bad request" error, never a crash or an exception; an accepted
// request must round-trip through its JSON form, and every reply the
// daemon could build from it must be one valid JSON line.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "userspace/api/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto request = lb4::parseRequest(line);
  std::string reply;
  if (!request) {
    if (request.error().rfind("bad request: ", 0) != 0) {
      std::abort();
    }
    reply = lb4::replyError(request.error());
  } else {
    std::string again = request->toJson().dump();
    auto back = lb4::parseRequest(again);
    if (!back || back->toJson() != request->toJson()) {
      std::abort();
    }
    reply = lb4::replyOk(request->toJson());
  }
  if (reply.empty() || reply.back() != '\n' || reply.find('\n') != reply.size() - 1) {
    std::abort();
  }
  auto parsed = lb4::parseReply(std::string_view(reply).substr(0, reply.size() - 1));
  if (parsed.ok() != request.ok()) {
    std::abort();
  }
  (void)lb4::parseReply(line);  // whatever a daemon might send back
  return 0;
}
