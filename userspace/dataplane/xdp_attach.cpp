// XdpAttachment: attaches the lb4 program to an interface with libxdp,
// replaces a running lb4 program atomically on restart, and detaches.
// libxdp first tries its multiprog dispatcher; where the kernel refuses it
// (as 6.18 does with libxdp 1.3.1) it attaches the program alone. Both paths
// are supported and the one taken is logged and recorded in method().
// Attaching needs CAP_SYS_ADMIN besides CAP_NET_ADMIN and CAP_BPF: lb4 finds
// its running program by id (restart, detach), which the kernel allows only
// with it, and libxdp 1.3.1 crashes without it; so lb4 refuses first.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <xdp/libxdp.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>

#include "userspace/dataplane/bpf_map.h"
#include "userspace/dataplane/dataplane.h"
#include "userspace/dataplane/library_log.h"

namespace lb4 {
namespace {

constexpr const char* kProgramName = "lb4_xdp";

std::string libxdpText(int err) {
  char buf[256] = {};
  libxdp_strerror(err, buf, sizeof(buf));
  return buf;
}

// While libxdp tries its dispatcher, a kernel that refuses it makes libbpf
// and libxdp warn (e.g. "permission error while running as root; try
// raising 'ulimit -l'") although the single-program fallback that follows
// is expected: their messages go to the debug log then, and attach() says
// in one line which method it took and why.
bool gTryingDispatcher = false;

int libxdpPrint(enum libxdp_print_level level, const char* format, va_list args) {
  spdlog::level::level_enum to = gTryingDispatcher      ? spdlog::level::debug
                                 : level == LIBXDP_WARN ? spdlog::level::warn
                                 : level == LIBXDP_INFO ? spdlog::level::info
                                                        : spdlog::level::debug;
  return detail::logLibraryMessage("libxdp", to, format, args);
}

libbpf_print_fn_t gLibbpfPrint = nullptr;

int quietLibbpfPrint(enum libbpf_print_level, const char* format, va_list args) {
  return gLibbpfPrint ? gLibbpfPrint(LIBBPF_DEBUG, format, args) : 0;
}

// xdp_program__attach() with the libraries' messages on the debug log.
int attachQuietly(xdp_program* prog, int ifindex, enum xdp_attach_mode mode) {
  gTryingDispatcher = true;
  gLibbpfPrint = libbpf_set_print(quietLibbpfPrint);
  int err = xdp_program__attach(prog, ifindex, mode, 0);
  libbpf_set_print(gLibbpfPrint);
  gTryingDispatcher = false;
  return err;
}

void installLibxdpLogging() {
  static std::once_flag once;
  std::call_once(once, [] { libxdp_set_print(libxdpPrint); });
}

struct ProgramCloser {
  void operator()(xdp_program* p) const { xdp_program__close(p); }
};
using ProgramPtr = std::unique_ptr<xdp_program, ProgramCloser>;

struct MultiprogCloser {
  void operator()(xdp_multiprog* mp) const { xdp_multiprog__close(mp); }
};
using MultiprogPtr = std::unique_ptr<xdp_multiprog, MultiprogCloser>;

MultiprogPtr multiprogOf(int ifindex) {
  xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(ifindex);
  if (mp == nullptr || libxdp_get_error(mp) != 0) {
    return nullptr;
  }
  return MultiprogPtr(mp);
}

uint32_t modeFlag(XdpMode mode) {
  return mode == XdpMode::kNative ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
}

// The program attached alone (not through a dispatcher) to ifindex.
struct Attached {
  UniqueFd fd;
  std::string name;
  XdpMode mode = XdpMode::kNative;
};

std::optional<Attached> attachedProgram(int ifindex) {
  LIBBPF_OPTS(bpf_xdp_query_opts, query);
  if (bpf_xdp_query(ifindex, 0, &query) != 0) {
    return std::nullopt;
  }
  Attached out;
  uint32_t id = 0;
  if (query.attach_mode == XDP_ATTACHED_DRV) {
    id = query.drv_prog_id;
    out.mode = XdpMode::kNative;
  } else if (query.attach_mode == XDP_ATTACHED_SKB) {
    id = query.skb_prog_id;
    out.mode = XdpMode::kGeneric;
  } else {
    return std::nullopt;  // none, hardware offload, or several modes at once
  }
  out.fd = UniqueFd(bpf_prog_get_fd_by_id(id));
  if (!out.fd) {
    return std::nullopt;
  }
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(out.fd.get(), &info, &len) != 0) {
    return std::nullopt;
  }
  out.name = info.name;
  return out;
}

bool haveSysAdmin() {
  __user_cap_header_struct header{.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) {
    return false;
  }
  return (data[CAP_SYS_ADMIN / 32].effective & (1u << (CAP_SYS_ADMIN % 32))) != 0;
}

}  // namespace

Result<XdpAttachment> XdpAttachment::attach(int programFd, const std::string& ifname,
                                            bool allowGeneric) {
  installLibxdpLogging();
  int ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (ifindex == 0) {
    return makeError("attach {} to {}: {}", kProgramName, ifname, errnoText(errno));
  }
  if (!haveSysAdmin()) {
    return makeError(
        "attach {} to {}: lb4d lacks CAP_SYS_ADMIN, which attaching needs (besides "
        "CAP_BPF and CAP_NET_ADMIN) to find its running program by id",
        kProgramName, ifname);
  }
  XdpAttachment att;
  att.ifname_ = ifname;

  // Restart or upgrade: swap the running lb4 program for the new one in one
  // netlink request, so no packet meets an interface without a program.
  if (auto old = attachedProgram(ifindex); old && old->name == kProgramName) {
    if (old->mode == XdpMode::kGeneric && !allowGeneric) {
      return makeError(
          "replace {} on {}: the running program is in generic mode, which is "
          "not allowed; detach it first",
          kProgramName, ifname);
    }
    LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = old->fd.get());
    if (int err =
            bpf_xdp_attach(ifindex, programFd, XDP_FLAGS_REPLACE | modeFlag(old->mode), &opts);
        err != 0) {
      return makeError("replace {} on {}: {}", kProgramName, ifname, errnoText(err));
    }
    att.ifindex_ = ifindex;
    att.mode_ = old->mode;
    att.method_ = "single program";
    spdlog::info("replaced the running {} on {} ({} mode, single program)", kProgramName, ifname,
                 xdpModeName(old->mode));
    return att;
  }

  // libxdp takes ownership of the descriptor it is given in some versions
  // and duplicates it in others: hand it a duplicate and keep ours.
  UniqueFd dup(fcntl(programFd, F_DUPFD_CLOEXEC, 3));
  if (!dup) {
    return makeError("attach {} to {}: {}", kProgramName, ifname, errnoText(errno));
  }
  xdp_program* raw = xdp_program__from_fd(dup.get());
  if (long err = libxdp_get_error(raw); err != 0 || raw == nullptr) {
    return makeError("attach {} to {}: {}", kProgramName, ifname,
                     libxdpText(static_cast<int>(err ? err : -EINVAL)));
  }
  ProgramPtr prog(raw);
  if (xdp_program__fd(prog.get()) == dup.get()) {
    dup.release();
  }

  XdpMode mode = XdpMode::kNative;
  int err = attachQuietly(prog.get(), ifindex, XDP_MODE_NATIVE);
  if (err != 0 && allowGeneric) {
    spdlog::warn(
        "attach {} to {} in native mode failed ({}); using generic (skb) mode, "
        "which is much slower",
        kProgramName, ifname, libxdpText(err));
    mode = XdpMode::kGeneric;
    err = attachQuietly(prog.get(), ifindex, XDP_MODE_SKB);
  }
  if (err != 0) {
    return makeError("attach {} to {}: {} (--log-level debug shows libbpf's and libxdp's messages)",
                     kProgramName, ifname, libxdpText(err));
  }

  MultiprogPtr mp = multiprogOf(ifindex);
  bool dispatcher = mp && !xdp_multiprog__is_legacy(mp.get());
  att.ifindex_ = ifindex;
  att.mode_ = mode;
  att.method_ = dispatcher ? "dispatcher" : "single program";
  spdlog::info("attached {} to {} ({} mode, {}){}", kProgramName, ifname, xdpModeName(mode),
               att.method_,
               dispatcher ? ""
                          : ": libxdp's multiprog dispatcher is not available on this kernel "
                            "(its messages are on the debug log)");
  return att;
}

Status XdpAttachment::detachInterface(const std::string& ifname) {
  installLibxdpLogging();
  int ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (ifindex == 0) {
    return makeError("detach XDP from {}: {}", ifname, errnoText(errno));
  }
  if (MultiprogPtr mp = multiprogOf(ifindex); mp && !xdp_multiprog__is_legacy(mp.get())) {
    if (int err = xdp_multiprog__detach(mp.get()); err != 0) {
      return makeError("detach XDP dispatcher from {}: {}", ifname, libxdpText(err));
    }
  }
  for (uint32_t flag : {XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE}) {
    if (int err = bpf_xdp_detach(ifindex, flag, nullptr); err != 0 && err != -ENOENT) {
      return makeError("detach XDP from {}: {}", ifname, errnoText(err));
    }
  }
  return {};
}

XdpAttachment::XdpAttachment(XdpAttachment&& other) noexcept
    : ifname_(std::move(other.ifname_)),
      ifindex_(std::exchange(other.ifindex_, 0)),
      mode_(other.mode_),
      method_(std::move(other.method_)) {}

XdpAttachment& XdpAttachment::operator=(XdpAttachment&& other) noexcept {
  if (this != &other) {
    if (auto st = detach(); !st) {
      spdlog::warn("{}", st.error());
    }
    ifname_ = std::move(other.ifname_);
    ifindex_ = std::exchange(other.ifindex_, 0);
    mode_ = other.mode_;
    method_ = std::move(other.method_);
  }
  return *this;
}

XdpAttachment::~XdpAttachment() {
  if (auto st = detach(); !st) {
    spdlog::warn("{}", st.error());
  }
}

// Removes the lb4 program this attachment put on the interface; a program
// someone attached since then is left alone.
Status XdpAttachment::detach() {
  if (ifindex_ == 0) {
    return {};
  }
  int ifindex = std::exchange(ifindex_, 0);
  if (MultiprogPtr mp = multiprogOf(ifindex); mp && !xdp_multiprog__is_legacy(mp.get())) {
    for (xdp_program* p = xdp_multiprog__next_prog(nullptr, mp.get()); p != nullptr;
         p = xdp_multiprog__next_prog(p, mp.get())) {
      if (std::strcmp(xdp_program__name(p), kProgramName) == 0) {
        if (int err = xdp_program__detach(p, ifindex, xdp_multiprog__attach_mode(mp.get()), 0);
            err != 0) {
          return makeError("detach {} from {}: {}", kProgramName, ifname_, libxdpText(err));
        }
        break;
      }
    }
    return {};
  }
  auto current = attachedProgram(ifindex);
  if (!current || current->name != kProgramName) {
    return {};
  }
  LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = current->fd.get());
  if (int err = bpf_xdp_detach(ifindex, XDP_FLAGS_REPLACE | modeFlag(current->mode), &opts);
      err != 0) {
    return makeError("detach {} from {}: {}", kProgramName, ifname_, errnoText(err));
  }
  return {};
}

Result<std::array<uint8_t, 6>> interfaceMac(const std::string& ifname) {
  if (ifname.size() >= IFNAMSIZ) {
    return makeError("read MAC of {}: interface name too long", ifname);
  }
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) {
    return makeError("read MAC of {}: {}", ifname, errnoText(errno));
  }
  ifreq req{};
  std::memcpy(req.ifr_name, ifname.c_str(), ifname.size());
  if (::ioctl(sock.get(), SIOCGIFHWADDR, &req) != 0) {
    return makeError("read MAC of {}: {}", ifname, errnoText(errno));
  }
  std::array<uint8_t, 6> mac{};
  std::memcpy(mac.data(), req.ifr_hwaddr.sa_data, mac.size());
  return mac;
}

}  // namespace lb4
