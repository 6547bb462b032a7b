// Attach tests on a veth pair created for the test (uniquely named, removed
// in teardown): native attach, atomic replacement of a running lb4 program,
// detach, and reading an interface's MAC.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "xdp_fixture.h"

namespace lb4::test {
namespace {

std::string shell(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) {
    return out;
  }
  char buf[512];
  while (std::fgets(buf, sizeof(buf), p) != nullptr) {
    out += buf;
  }
  ::pclose(p);
  return out;
}

uint32_t progId(int fd) {
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0;
}

uint32_t attachedId(const std::string& ifname) {
  uint32_t id = 0;
  bpf_xdp_query_id(static_cast<int>(if_nametoindex(ifname.c_str())), 0, &id);
  return id;
}

class AttachTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if_ = "lb4t" + std::to_string(::getpid());
    peer_ = "lb4u" + std::to_string(::getpid());
    ASSERT_EQ(std::system(("ip link add " + if_ + " type veth peer name " + peer_).c_str()), 0);
    created_ = true;
    ASSERT_EQ(std::system(("ip link set " + if_ + " up && ip link set " + peer_ + " up").c_str()),
              0);
  }
  void TearDown() override {
    if (created_) {
      std::system(("ip link del " + if_ + " 2>/dev/null").c_str());
    }
  }

  std::unique_ptr<Dataplane> openDataplane() {
    auto dp = Dataplane::open({.pinDir = "", .conntrackSize = 1024});
    EXPECT_TRUE(dp.ok()) << dp.error();
    return dp.ok() ? std::move(*dp) : nullptr;
  }

  bool linkShowsXdp() {
    return shell("ip -o link show dev " + if_).find(" xdp") != std::string::npos;
  }

  std::string if_;
  std::string peer_;
  bool created_ = false;
};

TEST_F(AttachTest, AttachesNativelyToVethAndDetachLeavesNoProgram) {
  auto dp = openDataplane();
  ASSERT_TRUE(dp);
  auto att = XdpAttachment::attach(dp->programFd(), if_, /*allowGeneric=*/false);
  ASSERT_TRUE(att.ok()) << att.error();
  EXPECT_EQ(att->mode(), XdpMode::kNative);
  EXPECT_TRUE(att->method() == "dispatcher" || att->method() == "single program") << att->method();
  EXPECT_EQ(att->ifname(), if_);
  EXPECT_EQ(att->ifindex(), static_cast<int>(if_nametoindex(if_.c_str())));
  EXPECT_TRUE(linkShowsXdp());
  if (att->method() == "single program") {
    EXPECT_EQ(attachedId(if_), progId(dp->programFd()));
  }
  auto st = att->detach();
  ASSERT_TRUE(st.ok()) << st.error();
  EXPECT_FALSE(linkShowsXdp()) << shell("ip -o link show dev " + if_);
}

TEST_F(AttachTest, DestructorDetachesUnlessReleased) {
  auto dp = openDataplane();
  ASSERT_TRUE(dp);
  {
    auto att = XdpAttachment::attach(dp->programFd(), if_);
    ASSERT_TRUE(att.ok()) << att.error();
  }
  EXPECT_FALSE(linkShowsXdp());
  {
    auto att = XdpAttachment::attach(dp->programFd(), if_);
    ASSERT_TRUE(att.ok()) << att.error();
    att->release();
  }
  EXPECT_TRUE(linkShowsXdp());
  auto st = XdpAttachment::detachInterface(if_);
  ASSERT_TRUE(st.ok()) << st.error();
  EXPECT_FALSE(linkShowsXdp());
}

TEST_F(AttachTest, RestartReplacesRunningProgram) {
  auto first = openDataplane();
  ASSERT_TRUE(first);
  auto att1 = XdpAttachment::attach(first->programFd(), if_);
  ASSERT_TRUE(att1.ok()) << att1.error();
  att1->release();  // the old daemon exits without detaching

  auto second = openDataplane();
  ASSERT_TRUE(second);
  auto att2 = XdpAttachment::attach(second->programFd(), if_);
  ASSERT_TRUE(att2.ok()) << att2.error();
  if (att1->method() == "single program") {
    EXPECT_EQ(attachedId(if_), progId(second->programFd()));
  }
  first.reset();
  EXPECT_TRUE(linkShowsXdp());
  ASSERT_TRUE(att2->detach().ok());
  EXPECT_FALSE(linkShowsXdp());
}

TEST_F(AttachTest, AttachToMissingInterfaceFails) {
  auto dp = openDataplane();
  ASSERT_TRUE(dp);
  auto att = XdpAttachment::attach(dp->programFd(), "lb4nonexist0");
  ASSERT_FALSE(att.ok());
  EXPECT_NE(att.error().find("attach lb4_xdp to lb4nonexist0"), std::string::npos) << att.error();
}

TEST_F(AttachTest, InterfaceMacMatchesSysfs) {
  auto mac = interfaceMac(if_);
  ASSERT_TRUE(mac.ok()) << mac.error();
  std::ifstream f("/sys/class/net/" + if_ + "/address");
  std::string text;
  f >> text;
  EXPECT_EQ(formatMac(*mac), text);
  EXPECT_FALSE(interfaceMac("lb4nonexist0").ok());
}

}  // namespace
}  // namespace lb4::test
