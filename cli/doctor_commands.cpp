// lb4ctl doctor: checks the running gateway for each pitfall lb4 knows and
// prints, per check, ok / warn / fail (or skip: could not be checked from
// the gateway) with one line and what to change. The facts come from the
// replies of status, list and stats, and from lb4d's `doctor` op for what
// only lb4d's network namespace shows (rp_filter, driver, offloads, veth
// peers). Exit code 0 all ok, 1 any fail, 4 warnings only.
#include "cli/doctor_commands.h"

#include <fmt/format.h>

#include <iostream>
#include <string>
#include <vector>

namespace lb4::cli {
namespace {

using nlohmann::json;

// Below this many conntrack entries per CPU a busy CPU evicts live flows.
constexpr uint64_t kMinShare = 8192;
// A learned MAC not confirmed for this long is suspicious.
constexpr int64_t kStaleMacS = 300;

struct Finding {
  std::string check;
  std::string level;  // ok, warn, fail, skip
  std::string what;
  std::string fix;
};

struct Doctor {
  std::vector<Finding> out;
  void add(std::string check, std::string level, std::string what, std::string fix = "") {
    out.push_back({std::move(check), std::move(level), std::move(what), std::move(fix)});
  }
};

Request requestOf(Op op) {
  Request r;
  r.op = op;
  return r;
}

void checkInterfaces(Doctor& d, const json& status) {
  if (status["interfaces"].empty()) {
    d.add("interfaces", "fail", "lb4 is attached to no interface", "run: lb4ctl attach IFACE");
  }
  for (const auto& i : status["interfaces"]) {
    std::string name = i.value("interface", "");
    if (i.value("state", "") == "missing") {
      d.add("missing_interface", "fail",
            fmt::format("{} is configured but does not exist; lb4 attaches when it appears", name),
            fmt::format("create link {} or run: lb4ctl detach {}", name, name));
      continue;
    }
    d.add("missing_interface", "ok", name + " is attached");
    if (i.value("mode", "") == "generic") {
      d.add("xdp_mode", "warn", name + " runs generic (skb) XDP, not native: slower",
            fmt::format("use a driver with native XDP on {}, then run: lb4ctl detach {} && "
                        "lb4ctl attach {}",
                        name, name, name));
    } else {
      d.add("xdp_mode", "ok", fmt::format("{} runs {} XDP", name, i.value("mode", "")));
    }
    if (i.value("method", "") != "dispatcher") {
      d.add("dispatcher", "warn",
            fmt::format("{} has lb4 as the single XDP program ({}), no libxdp dispatcher: "
                        "other XDP programs cannot share it",
                        name, i.value("method", "")),
            "check lb4d's log for why the dispatcher failed (bpffs, memlock), then re-attach");
    } else {
      d.add("dispatcher", "ok", name + " attached through the libxdp dispatcher");
    }
  }
}

void checkHost(Doctor& d, const json& facts) {
  json all = facts["rp_filter_all"];
  for (const auto& f : facts["interfaces"]) {
    std::string name = f.value("interface", "");
    if (!f.value("present", false)) {
      continue;  // reported as missing
    }
    // The kernel uses the larger of all and the interface's value.
    json own = f["rp_filter"];
    if (all.is_null() || own.is_null()) {
      d.add("rp_filter", "skip", name + ": rp_filter not readable");
    } else if (all.get<long>() != 0 || own.get<long>() != 0) {
      std::string fix = "run:";
      if (own.get<long>() != 0) {
        fix += fmt::format(" sysctl -w net.ipv4.conf.{}.rp_filter=0", name);
      }
      if (all.get<long>() != 0) {
        fix += std::string(own.get<long>() != 0 ? " &&" : "") +
               " sysctl -w net.ipv4.conf.all.rp_filter=0";
      }
      d.add("rp_filter", "fail",
            fmt::format("{}: rp_filter is {} (all {}, {} {}): the kernel drops VIP traffic whose "
                        "source it would not route back through {}",
                        name, std::max(all.get<long>(), own.get<long>()), all.get<long>(), name,
                        own.get<long>(), name),
            fix);
    } else {
      d.add("rp_filter", "ok", name + ": rp_filter off");
    }
    if (f["rx_vlan_offload"] == true) {
      d.add("rx_vlan_offload", "warn",
            name +
                ": receive VLAN offload is on: the driver strips VLAN tags before XDP, so "
                "tagged frames are forwarded untagged",
            f["driver"] == "veth"
                ? fmt::format("run: ethtool -K {} txvlan off tx-vlan-stag-hw-insert off (lb4d "
                              "does this at attach unless vlan_offload: keep)",
                              f["peer"].value("interface", "PEER"))
                : fmt::format("run: ethtool -K {} rxvlan off rx-vlan-stag-hw-parse off (lb4d "
                              "does this at attach unless vlan_offload: keep)",
                              name));
    } else if (f["rx_vlan_offload"] == false) {
      d.add("rx_vlan_offload", "ok", name + ": VLAN tags reach XDP in the frame");
    } else if (f["driver"] == "veth") {
      d.add("rx_vlan_offload", "skip",
            name +
                ": its veth peer is in another namespace; whether it sends VLAN tags in the "
                "frame cannot be seen from here",
            "on the peer run: ethtool -K PEER txvlan off tx-vlan-stag-hw-insert off");
    }
    if (f["driver"] != "veth") {
      continue;
    }
    if (f["tx_checksum"] == true) {
      d.add("veth_tx_checksum", "warn",
            name +
                ": veth with tx checksum offload on: packets it sends leave with partial "
                "checksums that XDP does not complete",
            fmt::format("run: ethtool -K {} tx off (and on the senders' veths)", name));
    } else if (f["tx_checksum"] == false) {
      d.add("veth_tx_checksum", "ok", name + ": tx checksum offload off");
    } else {
      d.add("veth_tx_checksum", "skip", name + ": tx checksum offload not readable");
    }
    const json& peer = f["peer"];
    if (!peer.value("local", false)) {
      d.add("veth_peer_napi", "skip",
            fmt::format("{}: its veth peer (ifindex {}) is in another namespace; the sending "
                        "side's checksum offload cannot be checked from here either",
                        name, peer["ifindex"].dump()),
            "on the peer run: ethtool -K PEER gro on (NAT) or attach an XDP program (DR's "
            "XDP_TX), and ethtool -K PEER tx off");
    } else if (peer["gro"] != true) {
      std::string p = peer.value("interface", "");
      d.add("veth_peer_napi", "warn",
            fmt::format("{}: veth peer {} has GRO off: without NAPI it drops what XDP_TX sends "
                        "unless it has an XDP program",
                        name, p),
            fmt::format("run: ethtool -K {} gro on (enough for NAT's XDP_REDIRECT; for DR's "
                        "XDP_TX put an XDP program on {}, docs/quickstart.md \"On veth links\")",
                        p, p));
    } else {
      d.add("veth_peer_napi", "ok", name + ": veth peer has GRO (NAPI)");
    }
  }
}

void checkBackends(Doctor& d, const json& list) {
  for (const auto& vip : list) {
    std::string v = vip.value("vip", "");
    bool dr = vip.value("mode", "") == "dr";
    for (const auto& b : vip["backends"]) {
      std::string addr = b.value("address", "");
      if (!b.value("reachable", true)) {
        d.add("backend_reachable", "fail",
              fmt::format("backend {} of {}: {}", addr, v, b.value("unreachable", "unreachable")),
              "attach lb4 to the backend's segment (lb4ctl attach IFACE) or fix the route to it");
        continue;
      }
      d.add("backend_reachable", "ok", fmt::format("backend {} of {} is reachable", addr, v));
      if (!dr) {
        continue;
      }
      if (b["mac"].is_null()) {
        d.add("backend_mac", "fail",
              fmt::format("backend {} of {}: its MAC is not resolved", addr, v),
              fmt::format("check that {} answers ARP/ND on the attached segment", addr));
      } else if (b["mac_age_s"].is_number() && b["mac_age_s"].get<int64_t>() > kStaleMacS) {
        d.add("backend_mac", "warn",
              fmt::format("backend {} of {}: MAC ({}) last confirmed {} s ago", addr, v,
                          b.value("mac_source", ""), b["mac_age_s"].get<int64_t>()),
              fmt::format("check {} is up; `ip neigh show {}` on the gateway", addr, addr));
      } else {
        d.add("backend_mac", "ok",
              fmt::format("backend {} of {}: MAC {} ({})", addr, v, b.value("mac", ""),
                          b.value("mac_source", "")));
      }
    }
  }
}

void checkConntrack(Doctor& d, const json& stats) {
  if (!stats.contains("conntrack")) {
    d.add("conntrack_share", "skip", "no conntrack counters (data plane not loaded)");
    return;
  }
  const json& ct = stats["conntrack"];
  uint64_t share = ct.value("share_per_cpu", uint64_t{0});
  uint64_t cpus = ct.value("cpus", uint64_t{0});
  uint64_t live = 0;
  for (const auto& c : ct["per_cpu"]) {
    live += c.value("evicted_live", uint64_t{0});
  }
  std::string fix = fmt::format("set conntrack_size: {} (or more) in lb4.yaml and restart lb4d",
                                std::max<uint64_t>(kMinShare * cpus, ct.value("size", 0) * 4));
  if (live > 0) {
    d.add("conntrack_share", "fail",
          fmt::format("{} live flow(s) evicted from conntrack ({} entries per CPU over {} CPUs)",
                      live, share, cpus),
          fix);
  } else if (share < kMinShare) {
    d.add("conntrack_share", "warn",
          fmt::format("conntrack holds {} entries per CPU ({} over {} CPUs): a CPU evicts live "
                      "flows beyond that",
                      share, ct.value("size", 0), cpus),
          fix);
  } else {
    d.add("conntrack_share", "ok", fmt::format("conntrack holds {} entries per CPU", share));
  }
}

int runDoctor(const Context& ctx) {
  auto status = call(ctx.socketPath, requestOf(Op::kStatus));
  if (!status) {
    return fail(status.error());
  }
  auto list = call(ctx.socketPath, requestOf(Op::kList));
  if (!list) {
    return fail(list.error());
  }
  auto stats = call(ctx.socketPath, requestOf(Op::kStats));
  if (!stats) {
    return fail(stats.error());
  }
  auto facts = call(ctx.socketPath, requestOf(Op::kDoctor));
  if (!facts) {
    return fail(facts.error());
  }
  Doctor d;
  checkInterfaces(d, *status);
  checkHost(d, *facts);
  checkBackends(d, *list);
  checkConntrack(d, *stats);
  bool anyFail = false;
  bool anyWarn = false;
  json rows = json::array();
  for (const auto& f : d.out) {
    anyFail |= f.level == "fail";
    anyWarn |= f.level == "warn";
    rows.push_back({{"check", f.check}, {"level", f.level}, {"message", f.what}, {"fix", f.fix}});
    if (!ctx.asJson) {
      std::cout << fmt::format("{:<5} {:<18} {}\n", f.level, f.check, f.what);
      if (!f.fix.empty() && f.level != "ok") {
        std::cout << fmt::format("      {:<18} fix: {}\n", "", f.fix);
      }
    }
  }
  if (ctx.asJson) {
    std::cout << json{{"checks", rows}}.dump(2) << "\n";
  }
  return anyFail ? kExitRefused : anyWarn ? kExitWarn : 0;
}

}  // namespace

void addDoctorCommands(CLI::App& app, Commands& commands) {
  auto* sub = app.add_subcommand(
      "doctor",
      "check this gateway for known pitfalls and print what to change; exit 0 all ok, "
      "1 any fail, 4 warnings only");
  commands.push_back(Command{sub, runDoctor});
}

}  // namespace lb4::cli
