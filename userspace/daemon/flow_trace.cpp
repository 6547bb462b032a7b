#include "userspace/daemon/flow_trace.h"

#include <time.h>

#include <cstring>
#include <string>

#include "userspace/dataplane/dataplane.h"
#include "userspace/dataplane/flow_hash.h"

namespace lb4 {
namespace {

using nlohmann::json;

// Seconds of CLOCK_MONOTONIC_COARSE: the clock of lb4_flow_value.last_seen.
uint32_t coarseNow() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint32_t>(ts.tv_sec);
}

json verdict(std::string_view action, lb4_stat counter, std::string why) {
  return {{"action", action}, {"counter", kStatNames[counter]}, {"reason", std::move(why)}};
}

// The VIP the program matches for this flow: the exact port, else the
// address's all-ports VIP.
const VipConfig* matchVip(const DesiredState& state, const ServiceKey& key) {
  if (const VipConfig* v = state.findVip(key)) {
    return v;
  }
  ServiceKey all = key;
  all.port = 0;
  return state.findVip(all);
}

json backendJson(const Dataplane& dp, const VipConfig& vip, const RuntimeView& runtime,
                 uint32_t id) {
  json b = {{"id", id}};
  for (const auto& cfg : vip.backends) {
    if (cfg.id == id) {
      b["address"] = cfg.endpoint.toString();
      b["weight"] = cfg.weight;
      b["drained"] = cfg.drained;
      b["gen"] = cfg.gen;
      if (auto r = runtime.backends.find(id); r != runtime.backends.end()) {
        b["effective_weight"] = r->second.effectiveWeight;
        b["health"] = r->second.health;
        if (!r->second.unreachable.empty()) {
          b["unreachable"] = r->second.unreachable;
        }
      }
    }
  }
  auto entry = dp.backend(id);
  if (entry) {
    b["enabled"] = (entry->flags & LB4_BACKEND_F_ENABLED) != 0;
    b["kernel_gen"] = entry->gen;
  }
  return b;
}

}  // namespace

Result<json> traceFlow(const Dataplane* dp, const DesiredState& state, const RuntimeView& runtime,
                       const Endpoint& client, const ServiceKey& vipKey) {
  json out = {{"client", client.toString()},
              {"vip", vipKey.toString()},
              {"persistence",
               "none: lb4 keeps no client affinity; each flow is hashed on its own "
               "addresses and ports"}};
  const VipConfig* vip = matchVip(state, vipKey);
  if (!vip) {
    out["verdict"] = verdict("pass", LB4_STAT_PASS,
                             fmt::format("no VIP {}: handed to the kernel", vipKey.toString()));
    return out;
  }
  out["matched_vip"] = vip->key.toString();
  out["mode"] = modeName(vip->mode);
  if (!dp) {
    out["verdict"] = {{"action", "none"},
                      {"reason", "lb4 is attached to no interface: nothing forwards this flow"}};
    return out;
  }
  auto vips = dp->vips();
  if (!vips) {
    return std::move(vips).takeError();
  }
  std::optional<lb4_vip_value> value;
  lb4_vip_key abiKey = vip->key.toAbi();
  for (const auto& [k, v] : *vips) {
    if (std::memcmp(&k, &abiKey, sizeof(k)) == 0) {
      value = v;
    }
  }
  if (!value) {
    out["verdict"] = verdict("pass", LB4_STAT_PASS,
                             fmt::format("VIP {} is not in the kernel (yet): handed to the kernel",
                                         vip->key.toString()));
    return out;
  }
  // The VIP's source lists, as bpf/lib/filter.h reads lb4_src_rules.
  if (value->flags & (LB4_VIP_F_SRC_ALLOW | LB4_VIP_F_SRC_DENY)) {
    auto rules = dp->sourceRules();
    if (!rules) {
      return std::move(rules).takeError();
    }
    std::optional<std::pair<IpPrefix, uint32_t>> best;
    for (const auto& [k, rule] : *rules) {
      IpPrefix p;
      p.addr.family = vipKey.addr.family;
      std::memcpy(p.addr.bytes.data(), k.addr, sizeof(k.addr));
      p.length = static_cast<uint8_t>(k.prefixlen - 32);
      if (k.vip_id == value->vip_id && k.prefixlen >= 32 && p.contains(client.addr) &&
          (!best || p.length > best->first.length)) {
        best = std::pair{p, rule.action};
      }
    }
    bool allowList = (value->flags & LB4_VIP_F_SRC_ALLOW) != 0;
    json filter = {{"allow_list", allowList},
                   {"matched", best ? json(best->first.toString()) : json(nullptr)},
                   {"action", best ? (best->second == LB4_SRC_ALLOW ? "allow" : "deny")
                                   : (allowList ? "not allowed" : "allow")}};
    out["source_filter"] = filter;
    if (best && best->second != LB4_SRC_ALLOW) {
      out["verdict"] =
          verdict("drop", LB4_STAT_DROP_SOURCE_DENIED,
                  fmt::format("source {} is in deny prefix {} of VIP {}", client.addr.toString(),
                              best->first.toString(), vip->key.toString()));
      return out;
    }
    if (!best && allowList) {
      out["verdict"] = verdict("drop", LB4_STAT_DROP_SOURCE_NOT_ALLOWED,
                               fmt::format("source {} is in no allow prefix of VIP {}",
                                           client.addr.toString(), vip->key.toString()));
      return out;
    }
  }

  bool nat = value->mode == LB4_MODE_NAT;
  lb4_flow_key key = makeFlowKey(client.addr, client.port, vipKey.addr, vipKey.port, vipKey.proto);
  lb4_stat scheduleAs = LB4_STAT_CT_MISS;

  // Conntrack, as select_backend() reads it.
  auto ct = dp->lookupFlow(key);
  if (!ct) {
    return std::move(ct).takeError();
  }
  if (ct->has_value()) {
    const lb4_flow_value& e = **ct;
    json c = {
        {"backend_id", e.backend_id}, {"backend_gen", e.backend_gen}, {"flags", json::array()}};
    if (e.flags & LB4_FLOW_F_NAT) {
      c["flags"].push_back("nat");
    }
    if (e.flags & LB4_FLOW_F_CLOSING) {
      c["flags"].push_back("closing");
    }
    c["state"] = vipKey.proto == Proto::kTcp
                     ? ((e.flags & LB4_FLOW_F_CLOSING) ? "closing (FIN or RST seen)" : "open")
                     : "open";
    std::string usable;
    scheduleAs = LB4_STAT_CT_RESCHED;
    if (nat) {
      auto cfg = dp->config();
      uint32_t timeout = 0;
      if (cfg) {
        timeout = vipKey.proto == Proto::kUdp      ? cfg->udp_timeout
                  : (e.flags & LB4_FLOW_F_CLOSING) ? cfg->tcp_fin_timeout
                                                   : cfg->tcp_timeout;
      }
      uint32_t idle = coarseNow() - e.last_seen;
      c["idle_s"] = idle;
      c["timeout_s"] = timeout;
      if (!(e.flags & LB4_FLOW_F_NAT)) {
        usable = "entry written in direct-routing mode; the VIP is NAT now";
      } else if (idle > timeout) {
        usable = fmt::format("expired: idle {} s > timeout {} s", idle, timeout);
        scheduleAs = LB4_STAT_CT_EXPIRED;
      }
    } else {
      c["idle_s"] = nullptr;  // direct routing keeps no clock per flow
    }
    if (usable.empty()) {
      auto b = dp->backend(e.backend_id);
      if (!b || !(b->flags & LB4_BACKEND_F_ENABLED)) {
        usable = fmt::format("stale: backend {} is not enabled", e.backend_id);
      } else if (b->gen != e.backend_gen) {
        usable = fmt::format("stale: backend id {} was given to another backend (gen {} -> {})",
                             e.backend_id, e.backend_gen, b->gen);
      }
    }
    c["usable"] = usable.empty();
    if (!usable.empty()) {
      c["why_not"] = usable;
    }
    out["conntrack"] = c;
    if (usable.empty()) {
      out["backend"] = backendJson(*dp, *vip, runtime, e.backend_id);
      out["source"] = "conntrack";
      scheduleAs = LB4_STAT_CT_MISS;  // the table answer is for a flow without this entry
    }
  } else {
    out["conntrack"] = nullptr;
  }

  // What Maglev chooses for this flow (a new flow from this port, or this
  // one when its entry is not usable).
  json table = {{"ring_size", value->ring_size}};
  json tableVerdict;
  if (value->ring_size == 0) {
    tableVerdict = verdict(
        "drop", LB4_STAT_DROP_NO_BACKEND,
        fmt::format("VIP {} has no table: no backend with weight > 0", vip->key.toString()));
  } else {
    uint32_t hash = hashFlow(key);
    uint32_t slot = hash % value->ring_size;
    table["hash"] = hash;
    table["slot"] = slot;
    auto ring = dp->ring(value->vip_id);
    uint32_t id = ring && slot < ring->size() ? (*ring)[slot] : 0;
    table["backend_id"] = id;
    if (id == 0) {
      tableVerdict =
          verdict("drop", LB4_STAT_DROP_NO_BACKEND,
                  fmt::format("slot {} of VIP {}'s table is empty", slot, vip->key.toString()));
    } else {
      table["backend"] = backendJson(*dp, *vip, runtime, id);
      auto b = dp->backend(id);
      if (!b || !(b->flags & LB4_BACKEND_F_ENABLED)) {
        tableVerdict =
            verdict("drop", LB4_STAT_DROP_BAD_BACKEND,
                    fmt::format("slot {} names backend {}, which is not enabled", slot, id));
      } else {
        tableVerdict = verdict("forward", scheduleAs,
                               fmt::format("new flow: slot {} of {}", slot, value->ring_size));
        // bpf/lib/conntrack.h: direct-routing TCP state for confirmed flows only.
        table["entry"] =
            !nat && vipKey.proto == Proto::kTcp
                ? fmt::format(
                      "a SYN is sent without one ({}); the flow's next "
                      "packet writes it ({})",
                      kStatNames[LB4_STAT_SYN_UNTRACKED], kStatNames[scheduleAs])
                : fmt::format("written by the first packet ({})", kStatNames[scheduleAs]);
      }
    }
  }
  table["verdict"] = tableVerdict;
  out["table"] = table;

  if (out.contains("backend")) {
    out["verdict"] = verdict("forward", LB4_STAT_CT_HIT, "established: conntrack entry");
  } else {
    out["verdict"] = tableVerdict;
    if (table.contains("backend") && tableVerdict["action"] == "forward") {
      out["backend"] = table["backend"];
      out["source"] = "table";
    }
  }
  // Direct routing to a backend no attached interface reaches (lb4d's
  // link check): the rewrite may find no egress (drop_no_egress).
  if (out.contains("backend") && out["backend"].contains("unreachable")) {
    out["warning"] = fmt::format("backend unreachable: {} (counter {} if its interface is gone)",
                                 out["backend"]["unreachable"].get<std::string>(),
                                 kStatNames[LB4_STAT_DROP_NO_EGRESS]);
  }
  return out;
}

}  // namespace lb4
