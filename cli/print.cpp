#include "cli/print.h"

#include <fmt/format.h>

#include <iostream>

namespace lb4::cli {

using nlohmann::json;

std::string humanBytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

std::string backendState(const json& b, bool nat) {
  std::string health = b.value("health", "serve");
  return !b.value("reachable", true)                ? "unreachable"
         : !nat && b.value("mac", json()).is_null() ? "no-mac"
         : health == "remove"                       ? (b.value("enabled", false) ? "down*" : "down")
         : b.value("drained", false)                ? "drained"
         : health == "quiesce"                      ? "overload"
         : b.value("effective_weight", 0u) == 0     ? "no-flows"
                                                    : "serving";
}

void printList(const json& vips) {
  if (vips.empty()) {
    std::cout << "no VIPs configured\n";
    return;
  }
  for (const auto& v : vips) {
    std::cout << fmt::format(
        "{}  mode {}  ring {}  ({} backends, check {}){}\n", v["vip"].get<std::string>(),
        v["mode"].get<std::string>(), v["ring_size"].get<uint32_t>(), v["backends"].size(),
        v["health"]["kind"].get<std::string>(),
        v.value("all_backends_down", false) ? "  ALL BACKENDS DOWN: serving from the last table (*)"
                                            : "");
    // Source lists: the longest matching prefix decides; with an allow list
    // nothing else reaches the VIP.
    for (const char* list : {"allow", "deny"}) {
      if (v.contains(list) && v[list].is_array() && !v[list].empty()) {
        std::string prefixes;
        for (const auto& p : v[list]) {
          prefixes += (prefixes.empty() ? "" : " ") + p.get<std::string>();
        }
        std::cout << fmt::format("  {} {}\n", list, prefixes);
      }
    }
    if (v["backends"].empty()) {
      continue;
    }
    std::cout << fmt::format("  {:<28} {:>6} {:>9} {:<9} {:<17}\n", "BACKEND", "WEIGHT",
                             "EFFECTIVE", "STATE", "MAC");
    // NAT routes to its backends through the FIB: they need no MAC.
    bool nat = v["mode"] == "nat";
    for (const auto& b : v["backends"]) {
      std::string state = backendState(b, nat);
      std::string mac = nat                  ? "(routed)"
                        : b["mac"].is_null() ? "(resolving)"
                                             : b["mac"].get<std::string>();
      // Where the MAC came from, and how long ago the neighbour table confirmed it.
      if (!nat && b.contains("mac_source") && b["mac_source"].is_string()) {
        mac += " " + b["mac_source"].get<std::string>();
        if (b.contains("mac_age_s") && b["mac_age_s"].is_number()) {
          mac += fmt::format(" {}s", b["mac_age_s"].get<int64_t>());
        }
      }
      std::cout << fmt::format("  {:<28} {:>6} {:>9} {:<9} {:<17}\n",
                               b["address"].get<std::string>(), b["weight"].get<uint32_t>(),
                               b["effective_weight"].get<uint32_t>(), state, mac);
      if (b.contains("unreachable")) {
        std::cout << fmt::format("    unreachable: {}\n", b["unreachable"].get<std::string>());
      }
    }
  }
}

void printStats(const json& stats, const json* previous, double seconds) {
  const json& g = stats["global"];
  std::cout << "global:\n";
  for (const auto& [name, value] : g.items()) {
    uint64_t v = value.get<uint64_t>();
    if (v == 0 && name.rfind("drop", 0) == 0) {
      continue;
    }
    std::string rate;
    if (previous) {
      uint64_t before = (*previous)["global"].value(name, uint64_t{0});
      rate = fmt::format("  {:.0f}/s", static_cast<double>(v - before) / seconds);
    }
    std::cout << fmt::format("  {:<18} {:>14}{}\n", name, v, rate);
  }
  if (stats.contains("conntrack")) {
    const json& ct = stats["conntrack"];
    std::cout << fmt::format("conntrack: {} entries over {} CPUs ({} per CPU)\n",
                             ct["size"].get<uint64_t>(), ct["cpus"].get<uint64_t>(),
                             ct["share_per_cpu"].get<uint64_t>());
    for (const auto& c : ct["per_cpu"]) {
      uint64_t share = ct["share_per_cpu"].get<uint64_t>();
      uint64_t entries = c["entries"].get<uint64_t>();
      std::cout << fmt::format(
          "  cpu {:<3} {:>10} entries ({:.1f}% of its share)  {:>10} evictions  "
          "{:>10} live flows evicted{}\n",
          c["cpu"].get<uint64_t>(), entries,
          share == 0 ? 0.0 : 100.0 * static_cast<double>(entries) / share,
          c["evictions"].get<uint64_t>(), c["evicted_live"].get<uint64_t>(),
          c["evicted_live"].get<uint64_t>() > 0
              ? "  (full: raise conntrack_size, see docs/quickstart.md)"
              : "");
    }
  }
  for (size_t i = 0; i < stats["vips"].size(); ++i) {
    const auto& v = stats["vips"][i];
    uint64_t dropped = v.value("dropped", uint64_t{0});
    std::cout << fmt::format("{}  {} packets  {}  {} new connections{}\n",
                             v["vip"].get<std::string>(), v["packets"].get<uint64_t>(),
                             humanBytes(v["bytes"].get<uint64_t>()),
                             v.value("new_connections", uint64_t{0}),
                             dropped > 0 ? fmt::format("  {} dropped", dropped) : "");
    for (size_t j = 0; j < v["backends"].size(); ++j) {
      const auto& b = v["backends"][j];
      std::string rate;
      if (previous && i < (*previous)["vips"].size() &&
          j < (*previous)["vips"][i]["backends"].size()) {
        uint64_t before = (*previous)["vips"][i]["backends"][j]["packets"].get<uint64_t>();
        rate = fmt::format("  {:.0f} pkt/s",
                           static_cast<double>(b["packets"].get<uint64_t>() - before) / seconds);
      }
      uint64_t bdropped = b.value("dropped", uint64_t{0});
      std::cout << fmt::format("  {:<28} {:>12} packets  {:>10}  {:>8} new{}{}\n",
                               b["address"].get<std::string>(), b["packets"].get<uint64_t>(),
                               humanBytes(b["bytes"].get<uint64_t>()),
                               b.value("new_connections", uint64_t{0}),
                               bdropped > 0 ? fmt::format("  {} dropped", bdropped) : "", rate);
    }
  }
}

void printHealth(const json& rows) {
  if (rows.empty()) {
    std::cout << "no backend is health-checked\n";
    return;
  }
  std::string vip;
  for (const auto& r : rows) {
    if (r["vip"] != vip) {
      vip = r["vip"].get<std::string>();
      std::cout << fmt::format("{}  ({})\n", vip, r["check"].get<std::string>());
      std::cout << fmt::format(
          "  {:<26} {:<9} {:<9} {:>7} {:>7} {:>6} {:>6} {:>6} {:>10} {:>8}  {}\n", "BACKEND",
          "STATE", "QUEUE", "RSUCC", "RERR", "C.OK", "C.ERR", "ERR%", "LATENCY", "SINCE",
          "LAST CHANGE");
    }
    std::string latency = r["latency_us"].is_null()
                              ? "-"
                              : fmt::format("{:.1f} ms", r["latency_us"].get<double>() / 1000.0);
    std::cout << fmt::format(
        "  {:<26} {:<9} {:<9} {:>7} {:>7} {:>6} {:>6} {:>5.1f}% {:>10} {:>7}s  {}\n",
        r["backend"].get<std::string>(), r["state"].get<std::string>(),
        r["queue"].get<std::string>(), r["rsucc"].get<uint64_t>(), r["rerr"].get<uint64_t>(),
        r["contin_succ"].get<uint64_t>(), r["contin_err"].get<uint64_t>(),
        100.0 * r["error_rate"].get<double>(), latency, r["since_change_ms"].get<int64_t>() / 1000,
        r["last_reason"].get<std::string>());
    if (r.contains("unreachable")) {
      std::cout << fmt::format("    gets no traffic: unreachable ({})\n",
                               r["unreachable"].get<std::string>());
    }
  }
}

void printStatus(const json& s) {
  std::cout << fmt::format("lb4d {} (api {}, map layout {}), up {} s\n",
                           s["version"].get<std::string>(), s["api_version"].get<int>(),
                           s["abi_version"].get<int>(), s["uptime_s"].get<int64_t>());
  std::cout << fmt::format("state file {}\n", s["state_file"].get<std::string>());
  std::cout << fmt::format("{} VIP(s), {} backend(s), {} MAC(s) being resolved\n",
                           s["vips"].get<size_t>(), s["backends"].get<size_t>(),
                           s["unresolved_macs"].get<size_t>());
  if (s["interfaces"].empty()) {
    std::cout << "not attached to any interface\n";
  }
  for (const auto& i : s["interfaces"]) {
    if (i.value("state", "attached") == "missing") {
      std::cout << fmt::format(
          "{} is missing: no such interface (attached again when it appears)\n",
          i["interface"].get<std::string>());
      continue;
    }
    std::cout << fmt::format("attached to {} ({} mode, {}), maps in {}\n",
                             i["interface"].get<std::string>(), i.value("mode", "?"),
                             i.value("method", "?"), i["pin_dir"].get<std::string>());
    if (i.contains("rx_vlan_offload") && i["rx_vlan_offload"] == true) {
      std::cout << fmt::format(
          "  {} strips VLAN tags before XDP (receive VLAN offload on): tagged frames leave "
          "untagged\n",
          i["interface"].get<std::string>());
    }
  }
  if (s.contains("maps") && !s["maps"].empty()) {
    uint64_t total = 0;
    std::cout << fmt::format("  {:<20} {:>10} {:>12}\n", "MAP", "ENTRIES", "MEMORY");
    for (const auto& m : s["maps"]) {
      total += m["memlock_bytes"].get<uint64_t>();
      std::cout << fmt::format("  {:<20} {:>10} {:>12}\n", m["name"].get<std::string>(),
                               m["entries"].get<uint64_t>(),
                               humanBytes(m["memlock_bytes"].get<uint64_t>()));
    }
    std::cout << fmt::format("  {:<20} {:>10} {:>12}\n", "total (locked)", "", humanBytes(total));
  }
  const json& gw = s.value("gateway", json::object());
  if (gw.value("drained", false)) {
    std::cout << "gateway drained: no VIP is announced (lb4ctl gateway undrain)\n";
  }
  const json& bgp = gw.value("bgp", json::object());
  if (!bgp.value("enabled", false)) {
    std::cout << "BGP: off\n";
    return;
  }
  std::string announced;
  for (const auto& p : bgp["announced"]) {
    announced += (announced.empty() ? "" : " ") + p.get<std::string>();
  }
  std::cout << fmt::format("BGP: {} announced through BIRD ({}, include {}){}\n",
                           announced.empty() ? "nothing" : announced,
                           bgp["bird_socket"].get<std::string>(),
                           bgp["include_file"].get<std::string>(),
                           bgp.value("in_sync", false) ? "" : "; a change is pending");
  if (!bgp["last_error"].is_null()) {
    std::cout << fmt::format("BGP error ({} failure(s), retrying): {}\n",
                             bgp["failures"].get<uint64_t>(), bgp["last_error"].get<std::string>());
  }
}

}  // namespace lb4::cli
