// The control API: newline-delimited JSON over a unix socket. A request is
// one JSON object on one line, {"v":1,"op":"add-backend",...}; the reply is
// one line, {"v":1,"ok":true,"result":...} or {"v":1,"ok":false,"error":"..."}.
// parseRequest validates everything (version, op, required and unknown
// fields, types, values) before the daemon acts, so a bad request changes
// nothing.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "userspace/common/net.h"
#include "userspace/common/result.h"
#include "userspace/state/state.h"

namespace lb4 {

constexpr int kApiVersion = 1;
// Longest request line accepted; longer ones are refused and the connection closed.
// (apply carries a whole configuration file.)
constexpr size_t kMaxRequestBytes = 1024 * 1024;
constexpr uint32_t kDefaultMacWaitMs = 2000;
constexpr uint32_t kMaxMacWaitMs = 60000;

enum class Op {
  kStatus,
  kList,
  kStats,
  kHealth,
  kAttach,
  kDetach,
  kAddVip,
  kDelVip,
  kAddBackend,
  kDelBackend,
  kSetWeight,
  kDrain,
  kUndrain,
  kSetHealth,
  kGatewayDrain,  // announce no VIP from this gateway (persisted)
  kGatewayUndrain,
  kLogLevel,
  kDoctor,      // facts of the gateway's namespace for `lb4ctl doctor`
  kTrace,       // where one client flow to a VIP goes now, and why
  kSetSources,  // replace a VIP's source allow and deny lists
  kApply,       // make the VIPs and backends those of a configuration file
};

std::string_view opName(Op op);

struct Request {
  Op op = Op::kStatus;
  std::optional<ServiceKey> vip;
  std::optional<Endpoint> backend;
  std::optional<uint32_t> weight;
  std::optional<MacAddress> mac;
  std::optional<ForwardingMode> mode;
  std::optional<uint32_t> ringSize;
  std::optional<std::string> interface;
  std::optional<bool> generic;   // attach: allow generic (skb) mode fallback
  std::optional<bool> allPorts;  // add-vip: the VIP (port 0) takes every port
  // add-backend: how long lb4d waits for a DR backend's MAC before it
  // replies (then with "pending": true if still unresolved); default 2000.
  std::optional<uint32_t> waitMs;
  // set-health: fields to change in the VIP's health check (validated
  // against the VIP's current check before anything is applied).
  std::optional<nlohmann::json> health;
  // log-level: the level to set (trace, debug, info, warn, error); none
  // asks for the current one.
  std::optional<std::string> level;
  // trace: the client's address and source port (both required: the port
  // is part of the flow hash).
  std::optional<Endpoint> client;
  // add-vip, set-sources: the VIP's source prefix lists (set-sources
  // replaces both; a list not given is empty).
  std::optional<std::vector<IpPrefix>> allow;
  std::optional<std::vector<IpPrefix>> deny;
  // apply: the configuration file's text (its `vips:` are applied), and
  // whether only to report the changes.
  std::optional<std::string> config;
  std::optional<bool> dryRun;

  nlohmann::json toJson() const;
};

Result<Request> parseRequest(std::string_view line);

std::string replyOk(const nlohmann::json& result);
std::string replyError(std::string_view message);

// Client side: the reply's result, or its error as an Error.
Result<nlohmann::json> parseReply(std::string_view line);

}  // namespace lb4
