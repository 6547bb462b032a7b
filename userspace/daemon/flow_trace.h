// `lb4ctl trace CLIENT:PORT VIP:PORT/PROTO`: where one flow goes now and
// why, read from the kernel maps the way the XDP program reads them
// (bpf/lib/conntrack.h select_backend(), bpf/lib/select.h): its conntrack
// entry if it has a usable one, else the Maglev slot its hash takes
// (userspace/dataplane/flow_hash.h). Names the counter the flow's next
// packet would add to.
#pragma once

#include <nlohmann/json.hpp>

#include "userspace/api/handlers.h"
#include "userspace/common/net.h"
#include "userspace/common/result.h"
#include "userspace/state/state.h"

namespace lb4 {

class Dataplane;

// `dataplane` is null while lb4 is attached to no interface.
Result<nlohmann::json> traceFlow(const Dataplane* dataplane, const DesiredState& state,
                                 const RuntimeView& runtime, const Endpoint& client,
                                 const ServiceKey& vip);

}  // namespace lb4
