// What lb4 says to BIRD 2: the config include that lists the VIPs this
// gateway announces, and the replies of BIRD's control socket. Pure text in
// and out; the daemon (daemon/bgp_announcer.h) does the I/O.
//
// The include holds two `protocol static` blocks, "<protocol>4" and
// "<protocol>6", with one blackhole host route per announced VIP address.
// The operator's bird.conf includes the file at top level and exports those
// protocols to its BGP peers (docs/ha.md).
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "userspace/common/net.h"
#include "userspace/common/result.h"

namespace lb4 {

// "198.18.1.100/32" or "2001:db8::1/128".
std::string hostPrefix(const IpAddress& addr);

// The include file's text for these addresses.
std::string renderBirdInclude(std::string_view protocol, const std::set<IpAddress>& addrs);

// BIRD control-socket replies: lines "DDDD-text" (more follows), "DDDD text"
// (last line of the reply) or " text" (continues the previous code). Codes
// 0xxx are success, 1xxx table rows, 8xxx run-time and 9xxx parse errors.
class BirdReply {
 public:
  // Feeds one line without its newline; returns true once the reply is complete.
  bool feed(std::string_view line);
  bool complete() const { return complete_; }
  // After complete(): ok, or the error BIRD gave ("<code> <text>").
  Status status() const;
  // Every text line of the reply, joined with "; ".
  const std::string& text() const { return text_; }

 private:
  bool complete_ = false;
  std::optional<int> errorCode_;
  std::string errorText_;
  std::string text_;
};

// A name BIRD accepts for a protocol: a letter or '_' then letters, digits
// and '_' (at most 30, leaving room for the "4"/"6" suffix).
Status validateBirdProtocolName(std::string_view name);

}  // namespace lb4
