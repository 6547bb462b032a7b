// lb4d: the lb4 daemon. Owns the data plane: loads and attaches the XDP
// program, keeps the desired state, serves the control socket. Everything
// runs on one asio io_context.
#include <net/if.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <asio.hpp>
#include <csignal>
#include <cstdio>
#include <exception>
#include <filesystem>

#include "userspace/common/file_lock.h"
#include "userspace/common/version.h"
#include "userspace/config/config.h"
#include "userspace/daemon/api_server.h"
#include "userspace/daemon/controller.h"
#include "userspace/daemon/health_manager.h"
#include "userspace/daemon/logging.h"
#include "userspace/daemon/systemd_notify.h"
#include "userspace/metrics/http_server.h"

int run(int argc, char** argv) {
  CLI::App app{"lb4d - the lb4 layer-4 load balancer daemon"};
  std::string configPath;
  std::string socketPath;
  std::string stateFile;
  std::string pinRoot;
  std::string logLevel;
  std::string logFormat;
  std::optional<std::string> metricsListen;
  app.add_option("-c,--config", configPath, "YAML configuration file")->check(CLI::ExistingFile);
  app.add_option("--socket", socketPath, "control socket path (overrides the config)");
  app.add_option("--state-file", stateFile, "state file path (overrides the config)");
  app.add_option("--pin-root", pinRoot, "bpffs directory for pinned maps (overrides the config)");
  app.add_option("--log-level", logLevel, "trace, debug, info, warn or error");
  app.add_option("--log-format", logFormat,
                 "text (one line per event) or json (one object per line, for collectors)");
  app.add_option("--metrics-listen", metricsListen,
                 "ADDR:PORT of the Prometheus endpoint (overrides the config; \"\" turns it off)");
  std::string checkPath;
  app.add_option("--check-config", checkPath,
                 "validate FILE and exit: 0 when valid, else one error line and 1; "
                 "touches no socket, state file or map");
  app.set_version_flag("--version", std::string("lb4d ") + lb4::kVersionFull,
                       "print the version and the git commit built from, and exit");
  CLI11_PARSE(app, argc, argv);

  if (!checkPath.empty()) {
    auto checked = lb4::loadConfig(checkPath);
    if (!checked) {
      std::fprintf(stderr, "lb4d: %s\n", checked.error().c_str());
      return 1;
    }
    std::printf("lb4d: config %s is valid\n", checkPath.c_str());
    return 0;
  }

  lb4::DaemonConfig config;
  if (!configPath.empty()) {
    auto loaded = lb4::loadConfig(configPath);
    if (!loaded) {
      std::fprintf(stderr, "lb4d: %s\n", loaded.error().c_str());
      return 2;
    }
    config = std::move(*loaded);
  }
  if (!socketPath.empty()) {
    config.socketPath = socketPath;
  }
  if (!stateFile.empty()) {
    config.stateFile = stateFile;
  }
  if (!pinRoot.empty()) {
    config.pinRoot = pinRoot;
  }
  if (!logLevel.empty()) {
    config.logLevel = logLevel;
  }
  if (!logFormat.empty()) {
    config.logFormat = logFormat;
  }
  if (metricsListen) {
    config.metricsListen = *metricsListen;
    config.metricsListenSet = true;
  }
  // Every setting is checked before anything is created or changed.
  if (auto s = lb4::validateDaemonSettings(config); !s) {
    std::fprintf(stderr, "lb4d: %s\n", s.error().c_str());
    return 2;
  }
  // The config's interfaces seed a fresh state: each must exist now.
  if (!std::filesystem::exists(config.stateFile)) {
    for (size_t i = 0; i < config.initial.interfaces.size(); ++i) {
      const std::string& ifname = config.initial.interfaces[i];
      if (if_nametoindex(ifname.c_str()) == 0) {
        std::string where =
            i < config.interfaceOrigins.size() ? config.interfaceOrigins[i] : "config: interfaces";
        std::fprintf(stderr, "lb4d: %s: no interface %s on this host\n", where.c_str(),
                     ifname.c_str());
        return 2;
      }
    }
  }
  // One lb4d per state file and per pin root.
  auto stateLock =
      lb4::FileLock::acquire(config.stateFile + ".lock", "state file " + config.stateFile);
  if (!stateLock) {
    std::fprintf(stderr, "lb4d: %s\n", stateLock.error().c_str());
    return 1;
  }
  auto pinLock =
      lb4::FileLock::acquire(lb4::pinRootLockPath(config.pinRoot), "pin root " + config.pinRoot);
  if (!pinLock) {
    std::fprintf(stderr, "lb4d: %s\n", pinLock.error().c_str());
    return 1;
  }
  lb4::setupLogging(config.logFormat, config.logLevel);

  asio::io_context io;
  lb4::Controller controller(io, config);
  lb4::HealthManager health(io, config.scoring,
                            [&controller](uint32_t id) { return controller.backendSignals(id); });
  // Commands go down (state to health), events come up (verdicts, posted).
  controller.onStateCommitted([&health](const lb4::DesiredState& state) { health.sync(state); });
  health.onVerdicts([&controller](const lb4::HealthVerdicts& v) { controller.setVerdicts(v); });
  controller.setHealthTable(
      [&health](const std::optional<lb4::ServiceKey>& vip) { return health.table(vip); });
  lb4::ApiServer server(io, controller, config.socketPath, config.socketGroup);
  // The metrics port is taken before anything else: a configured address
  // lb4d cannot listen on stops it before it touches the data plane (the
  // default one only warns). It parses: validateDaemonSettings checked it.
  auto metricsAddress = lb4::parseListenAddress(config.metricsListen).value();
  lb4::MetricsServer metrics(io, [&] {
    lb4::MetricsSnapshot snapshot;
    snapshot.version = lb4::kVersion;
    snapshot.commit = lb4::kGitCommit;
    controller.fillMetrics(snapshot);
    snapshot.health = health.metrics();
    snapshot.requests = server.requestCounts();
    return lb4::renderMetrics(snapshot);
  });
  if (metricsAddress) {
    if (auto s = metrics.listen(*metricsAddress); !s) {
      if (config.metricsListenSet) {
        spdlog::error("{}", s.error());
        return 1;
      }
      spdlog::warn("{}; serving no metrics (set metrics_listen to choose an address)", s.error());
    }
  }
  bool pinRootExisted = std::filesystem::exists(config.pinRoot);
  if (auto s = controller.start(); !s) {
    spdlog::error("{}", s.error());
    if (!pinRootExisted) {
      // A failed first start leaves no pinned maps behind.
      std::error_code ec;
      std::filesystem::remove_all(config.pinRoot, ec);
    }
    return 1;
  }
  if (auto s = server.listen(); !s) {
    spdlog::error("{}", s.error());
    controller.stop();
    return 1;
  }
  health.start();
  lb4::SystemdNotifier systemd(io);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const asio::error_code&, int sig) {
    spdlog::info("signal {}: shutting down", sig);
    systemd.stopping();
    server.stop();
    metrics.stop();
    health.stop();
    // BGP routes are withdrawn first (bounded by bgp.timeout_ms), so the
    // router moves new flows away while this gateway still forwards.
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          co_await controller.withdrawForStop();
          controller.stop();
          io.stop();
        },
        asio::detached);
  });
  std::signal(SIGPIPE, SIG_IGN);
  spdlog::info("lb4d ready");
  systemd.ready(fmt::format("serving {}", config.socketPath));
  systemd.startWatchdog();
  io.run();
  return 0;
}

int main(int argc, char** argv) {
  // No exception ends lb4d with an abort: one line and exit code 1.
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lb4d: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "lb4d: unexpected error\n");
  }
  return 1;
}
