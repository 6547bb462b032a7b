// lb4ctl apply / diff: the changes that make a gateway's VIPs and backends
// equal to a configuration file's `vips:`, made through DesiredState's own
// validated mutations so that the result obeys every rule an add-vip or
// add-backend does. Operator state that a file does not hold stays: a
// drained backend stays drained, ids and generations of what is kept stay.
#pragma once

#include <string>
#include <vector>

#include "userspace/common/result.h"
#include "userspace/state/state.h"

namespace lb4 {

// Changes `next` (a copy of the running state) until its VIPs and backends
// are those of `desired`; returns one line per change, in the order made
// ("add-vip 198.18.1.100:80/tcp mode dr ring 65537", "set-weight ...").
// A VIP whose mode or ring size differs, or a backend whose port or MAC
// differs, is removed and added again. Empty: nothing to change.
Result<std::vector<std::string>> planApply(DesiredState& next, const DesiredState& desired);

}  // namespace lb4
