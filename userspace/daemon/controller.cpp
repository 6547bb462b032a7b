#include "userspace/daemon/controller.h"

#include <net/if.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <asio/experimental/as_tuple.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "userspace/daemon/flow_trace.h"
#include "userspace/daemon/host_facts.h"
#include "userspace/daemon/kernel_sync.h"
#include "userspace/daemon/logging.h"
#include "userspace/state/apply.h"

namespace lb4 {
namespace {

// How often the MACs of DR backends are re-read from the neighbour table
// (besides following its events).
constexpr std::chrono::milliseconds kNeighbourRefresh{5000};

// The indexes of the interfaces that exist among `names`.
std::set<int> ifindexesOf(const std::vector<std::string>& names) {
  std::set<int> out;
  for (const auto& name : names) {
    if (int i = static_cast<int>(if_nametoindex(name.c_str())); i != 0) {
      out.insert(i);
    }
  }
  return out;
}

}  // namespace

Controller::Controller(asio::io_context& io, DaemonConfig config)
    : io_(io),
      config_(std::move(config)),
      verdicts_{.hosts = {}, .startUp = config_.scoring.startUp},
      routeTimer_(io),
      neighbours_(io.get_executor(), std::chrono::milliseconds(config_.neighbourRetryMs),
                  kNeighbourRefresh),
      monitor_(io.get_executor()),
      started_(std::chrono::steady_clock::now()),
      startedWall_(std::chrono::system_clock::now()) {
  neighbours_.onChange([this] { reapply("apply resolved neighbours"); });
  if (config_.bgp.enabled) {
    announcer_ = std::make_unique<BgpAnnouncer>(io.get_executor(), config_.bgp);
  }
}

Controller::~Controller() = default;

Status Controller::openDataplane() {
  DataplaneOptions options{.pinDir = config_.pinRoot + "/maps",
                           .conntrackSize = config_.conntrackSize,
                           .natReverseSize = config_.natReverseSize};
  auto dp = Dataplane::open(options);
  if (!dp) {
    return std::move(dp).takeError();
  }
  lb4_config cfg;
  std::memset(&cfg, 0, sizeof(cfg));
  cfg.abi_version = LB4_ABI_VERSION;
  cfg.tcp_timeout = config_.tcpTimeoutS;
  cfg.tcp_fin_timeout = config_.tcpFinTimeoutS;
  cfg.udp_timeout = config_.udpTimeoutS;
  if (auto s = (*dp)->setConfig(cfg); !s) {
    return s;
  }
  spdlog::info("maps {} in {}", (*dp)->adopted() ? "adopted" : "created", options.pinDir);
  dataplane_ = std::move(*dp);
  return {};
}

void Controller::closeDataplane(bool unpin) {
  if (dataplane_ && unpin) {
    if (auto s = dataplane_->unpinAll(); !s) {
      spdlog::warn("{}", s.error());
    }
  }
  dataplane_.reset();
}

// After a restart the pinned backend entry still holds the MAC the flows
// were using: keep it rather than stop forwarding while ARP runs again.
std::optional<MacAddress> Controller::pinnedMac(const BackendConfig& backend) const {
  if (!dataplane_) {
    return std::nullopt;
  }
  auto entry = dataplane_->backend(backend.id);
  if (!entry || !(entry->flags & LB4_BACKEND_F_ENABLED) || entry->gen != backend.gen ||
      std::memcmp(entry->addr, backend.endpoint.addr.bytes.data(), 16) != 0) {
    return std::nullopt;
  }
  MacAddress mac;
  std::memcpy(mac.data(), entry->mac, 6);
  return mac;
}

void Controller::follow() {
  monitor_.onNeighbour([this](const NeighbourEvent& ev) { neighbours_.observe(ev); });
  monitor_.onLink([this](const LinkEvent& ev) { linkChanged(ev); });
  monitor_.onRoute([this] { routesChanged(); });
  monitor_.onResync([this] {
    neighbours_.refresh();
    resyncLinks();
  });
  if (auto s = monitor_.open(); !s) {
    spdlog::warn("{}; backend MACs are re-read every {} s only", s.error(),
                 kNeighbourRefresh.count() / 1000);
  }
}

ViewPlan Controller::plan(const DesiredState& state) {
  // A DR backend's MAC comes from the neighbour table of an interface lb4
  // transmits on, never from another interface's.
  neighbours_.setInterfaces(ifindexesOf(state.interfaces));
  MacTable macs;
  for (const BackendConfig* b : macsNeeded(state)) {
    const IpAddress& addr = b->endpoint.addr;
    if (macs.count(addr)) {
      continue;
    }
    if (auto mac = neighbours_.lookup(addr)) {
      macs[addr] = *mac;
    } else if (auto pinned = pinnedMac(*b)) {
      neighbours_.remember(addr, *pinned);
      macs[addr] = *pinned;
    }
  }
  if (!dataplane_) {
    return buildKernelView(state, verdicts_, macs, applied_);
  }
  EgressTable egress = egressOf(state);
  return buildKernelView(state, verdicts_, macs, applied_, &egress);
}

Status Controller::applyView(const KernelView& view) {
  if (!dataplane_) {
    return {};
  }
  if (auto s = syncKernel(*dataplane_, view, &applied_, &ringStats_); !s) {
    spdlog::error("{}; restoring the previous configuration", s.error());
    if (auto r = syncKernel(*dataplane_, applied_, nullptr); !r) {
      spdlog::error("restore failed: {}", r.error());
    }
    return s;
  }
  return {};
}

void Controller::adopt(ViewPlan plan) {
  for (const auto& vip : state_.vips) {
    bool now = plan.allDown.count(vip.id) > 0;
    bool before = allDown_.count(vip.id) > 0;
    if (now && !before) {
      spdlog::error("VIP {}: every backend is down; keeping its last table", vip.key.toString());
    } else if (!now && before) {
      spdlog::info("VIP {}: a backend is up again", vip.key.toString());
    }
  }
  allDown_ = std::move(plan.allDown);
  applied_ = std::move(plan.view);
  neighbours_.solicit(plan.missingMacs);
  for (const auto& w : waiters_) {
    if (backendEnabled(w.vip, w.addr)) {
      w.timer->cancel();
    }
  }
  announce();
}

void Controller::announce() {
  if (announcer_) {
    announcer_->announce(servableAddresses(state_, applied_, allDown_, !attachments_.empty()));
  }
}

asio::awaitable<void> Controller::withdrawForStop() {
  if (announcer_ && config_.bgp.withdrawOnStop) {
    spdlog::info("stopping: withdrawing every VIP from BGP first");
    (void)co_await announcer_->withdrawAll();
  }
}

Status Controller::commit(DesiredState next) {
  if (auto s = next.validate(); !s) {
    return s;
  }
  ViewPlan p = plan(next);
  if (auto s = applyView(p.view); !s) {
    return s;
  }
  if (auto s = saveState(next, config_.stateFile); !s) {
    if (dataplane_) {
      (void)syncKernel(*dataplane_, applied_, nullptr);
    }
    return makeError("persist state: {}", s.error());
  }
  state_ = std::move(next);
  adopt(std::move(p));
  if (stateListener_) {
    stateListener_(state_);
  }
  return {};
}

void Controller::reapply(std::string_view why) {
  ViewPlan p = plan(state_);
  if (auto s = applyView(p.view); !s) {
    spdlog::error("{}: {}", why, s.error());
    return;
  }
  adopt(std::move(p));
}

void Controller::setVerdicts(HealthVerdicts verdicts) {
  verdicts_ = std::move(verdicts);
  reapply("apply health verdicts");
}

Status Controller::start() {
  follow();
  auto loaded = loadState(config_.stateFile);
  if (!loaded) {
    return std::move(loaded).takeError();
  }
  bool fresh = !std::filesystem::exists(config_.stateFile);
  DesiredState initial = fresh ? config_.initial : *loaded;
  spdlog::info("{}: {} interface(s), {} VIP(s)",
               fresh ? "starting from the config file" : "restoring " + config_.stateFile,
               initial.interfaces.size(), initial.vips.size());
  if (!initial.interfaces.empty()) {
    if (auto s = openDataplane(); !s) {
      return s;
    }
  }
  ViewPlan p = plan(initial);
  if (dataplane_) {
    // Tables first, then the attachments (which replace a running lb4
    // program in place), so the new program never sees a partial view.
    if (auto s = syncKernel(*dataplane_, p.view, nullptr, &ringStats_); !s) {
      return s;
    }
  }
  if (auto s = attachListed(initial.interfaces); !s) {
    return s;
  }
  if (auto s = saveState(initial, config_.stateFile); !s) {
    return makeError("persist state: {}", s.error());
  }
  state_ = std::move(initial);
  adopt(std::move(p));
  if (stateListener_) {
    stateListener_(state_);
  }
  return {};
}

void Controller::stop() {
  for (auto& [name, attachment] : attachments_) {
    attachment.release();
  }
  neighbours_.stop();
  monitor_.stop();
  routeTimer_.cancel();
  for (const auto& w : waiters_) {
    w.timer->cancel();
  }
  if (announcer_) {
    announcer_->stop();
  }
  spdlog::info("stopping; XDP programs stay attached and keep forwarding");
}

RuntimeView Controller::runtime() const {
  RuntimeView rt{.backends = {}, .allDown = allDown_};
  auto now = std::chrono::steady_clock::now();
  for (const auto& vip : state_.vips) {
    for (const auto& b : vip.backends) {
      BackendRuntime r{.enabled = applied_.backendEnabled(b.id),
                       .effectiveWeight = applied_.effectiveWeight(vip.id, b.id),
                       .health = std::string(actionName(verdictOf(verdicts_, vip, b).action)),
                       .mac = b.mac,
                       .macSource = {},
                       .macAgeS = {},
                       .unreachable = {}};
      if (vip.mode == ForwardingMode::kDr) {
        if (auto u = unreachable_.find(b.endpoint.addr); u != unreachable_.end()) {
          r.unreachable = u->second;
        }
      }
      if (b.mac) {
        r.macSource = "configured";
      } else if (vip.mode == ForwardingMode::kDr) {
        if (auto l = neighbours_.learned(b.endpoint.addr)) {
          r.mac = l->mac;
          r.macSource = std::string(macSourceName(l->source));
          r.macAgeS = std::chrono::duration_cast<std::chrono::seconds>(now - l->confirmed).count();
        }
      }
      rt.backends[b.id] = std::move(r);
    }
  }
  return rt;
}

Result<StatsView> Controller::stats(const std::optional<ServiceKey>& only) const {
  StatsView out;
  GlobalStats total{};
  if (dataplane_) {
    auto global = dataplane_->globalStats();
    if (!global) {
      return std::move(global).takeError();
    }
    total = *global;
  }
  for (size_t i = 0; i < total.size(); ++i) {
    out.global.emplace_back(kStatNames[i], total[i]);
  }
  if (!dataplane_) {
    return out;
  }
  auto inserted = dataplane_->perCpuStat(LB4_STAT_CT_MISS);
  auto evicted = dataplane_->perCpuStat(LB4_STAT_CT_EVICTED_LIVE);
  if (!inserted || !evicted) {
    return makeError("read conntrack pressure: {}", !inserted ? inserted.error() : evicted.error());
  }
  out.conntrack = StatsView::Conntrack{.size = dataplane_->conntrackCapacity(),
                                       .newFlows = std::move(*inserted),
                                       .evictedLive = std::move(*evicted)};
  for (const auto& vip : state_.vips) {
    if (only && !(vip.key == *only)) {
      continue;
    }
    auto vt = dataplane_->vipTraffic(vip.id);
    if (!vt) {
      return std::move(vt).takeError();
    }
    out.vips[vip.id] = *vt;
    for (const auto& b : vip.backends) {
      auto bt = dataplane_->backendTraffic(b.id);
      if (!bt) {
        return std::move(bt).takeError();
      }
      out.backends[b.id] = *bt;
    }
  }
  return out;
}

bool Controller::backendEnabled(const ServiceKey& vipKey, const IpAddress& addr) const {
  const VipConfig* vip = state_.findVip(vipKey);
  const BackendConfig* b = vip ? vip->findBackend(addr) : nullptr;
  return b && applied_.backendEnabled(b->id);
}

asio::awaitable<bool> Controller::awaitBackendEnabled(ServiceKey vip, IpAddress addr,
                                                      std::chrono::milliseconds timeout) {
  if (backendEnabled(vip, addr)) {
    co_return true;
  }
  auto timer = std::make_shared<asio::steady_timer>(io_, timeout);
  waiters_.push_back(Waiter{.vip = vip, .addr = addr, .timer = timer});
  if (neighbours_.pending(addr)) {
    neighbours_.hurry(timer->expiry());
  }
  // adopt() cancels the timer once the entry is enabled.
  co_await timer->async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  std::erase_if(waiters_, [&](const Waiter& w) { return w.timer == timer; });
  co_return backendEnabled(vip, addr);
}

Result<lb4_signals> Controller::backendSignals(uint32_t id) const {
  if (!dataplane_) {
    return lb4_signals{};
  }
  return dataplane_->backendSignals(id);
}

Result<nlohmann::json> Controller::applyConfig(const std::string& text, bool dryRun) {
  auto file = parseConfig(text, "apply");
  if (!file) {
    return std::move(file).takeError();
  }
  DesiredState next = state_;
  auto changes = planApply(next, file->initial);
  if (!changes) {
    return makeError("apply: {}", changes.error());
  }
  if (!dryRun && !changes->empty()) {
    if (auto r = commit(std::move(next)); !r) {
      return std::move(r).takeError();
    }
    for (const auto& c : *changes) {
      spdlog::info("apply: {}", c);
    }
  }
  return nlohmann::json{{"changes", *changes}, {"applied", !dryRun && !changes->empty()}};
}

Result<nlohmann::json> Controller::handle(const Request& req) {
  switch (req.op) {
    case Op::kStatus:
      return renderStatus(status(), state_);
    case Op::kList:
      if (auto s = checkVipExists("list", state_, req.vip); !s) {
        return std::move(s).takeError();
      }
      return renderList(state_, runtime(), req.vip);
    case Op::kStats: {
      if (auto s = checkVipExists("stats", state_, req.vip); !s) {
        return std::move(s).takeError();
      }
      auto counters = stats(req.vip);
      if (!counters) {
        return std::move(counters).takeError();
      }
      return renderStats(state_, *counters, req.vip);
    }
    case Op::kHealth:
      if (auto s = checkVipExists("health", state_, req.vip); !s) {
        return std::move(s).takeError();
      }
      if (!healthTable_) {
        return makeError("health: this daemon runs no health checks");
      }
      return markUnreachable(healthTable_(req.vip));
    case Op::kAttach:
      return attach(req);
    case Op::kDetach:
      return detach(req);
    case Op::kLogLevel:
      return handleLogLevel(req);
    case Op::kDoctor: {
      std::vector<std::string> names;
      for (const auto& a : status().interfaces) {
        names.push_back(a.interface);
      }
      return hostFacts(names);
    }
    case Op::kTrace:
      return traceFlow(dataplane_.get(), state_, runtime(), *req.client, *req.vip);
    case Op::kApply:
      return applyConfig(*req.config, req.dryRun.value_or(false));
    default:
      break;
  }
  DesiredState next = state_;
  if (auto s = applyChange(next, req, config_.defaultRingSize); !s) {
    return std::move(s).takeError();
  }
  if (auto r = commit(std::move(next)); !r) {
    return std::move(r).takeError();
  }
  spdlog::info("{}", describeChange(req, state_));
  bool enabled = req.vip && req.backend && backendEnabled(*req.vip, req.backend->addr);
  return renderChange(req, state_, enabled);
}

}  // namespace lb4
