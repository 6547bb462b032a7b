// Writes a KernelView to the data plane. With the view the kernel holds
// now, only the difference is written, in an order packets can follow:
// backends, then tables, then the VIP entries that use them; removals the
// other way round. Without one (new or adopted maps), everything is written
// and whatever the view does not hold is removed.
#pragma once

#include "userspace/common/result.h"
#include "userspace/daemon/kernel_view.h"
#include "userspace/dataplane/dataplane.h"

namespace lb4 {

Status syncKernel(Dataplane& dp, const KernelView& view, const KernelView* previous);

}  // namespace lb4
