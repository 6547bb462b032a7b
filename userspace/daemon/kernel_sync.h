// Writes a KernelView to the data plane. With the view the kernel holds
// now, only the difference is written, in an order packets can follow:
// backends, then tables, then the VIP entries that use them; removals the
// other way round. Without one (new or adopted maps), everything is written
// and whatever the view does not hold is removed.
#pragma once

#include "userspace/common/result.h"
#include "userspace/daemon/kernel_view.h"
#include "userspace/dataplane/dataplane.h"
#include "userspace/metrics/exposition.h"

namespace lb4 {

// Maglev tables built and swapped into lb4_rings, and how long each took
// (build plus the map update), for the metrics endpoint.
struct RingStats {
  uint64_t builds = 0;
  Histogram seconds{
      {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}};
};

// `rings`, when given, counts the tables written.
Status syncKernel(Dataplane& dp, const KernelView& view, const KernelView* previous,
                  RingStats* rings = nullptr);

}  // namespace lb4
