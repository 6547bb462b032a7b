// BGP announcements through BIRD: the include lb4d writes, BIRD's reply
// format, the bgp: config section, which VIPs count as servable, and one
// exchange with a control socket that answers like BIRD.
#include <gtest/gtest.h>
#include <unistd.h>

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <filesystem>
#include <fstream>

#include "userspace/bgp/bird.h"
#include "userspace/config/config.h"
#include "userspace/daemon/bgp_announcer.h"

namespace lb4 {
namespace {

using nlohmann::json;

IpAddress ip(const char* text) { return *IpAddress::parse(text); }
ServiceKey vipKey(const char* text) { return *ServiceKey::parse(text, true); }

TEST(BirdIncludeTest, ListsEachAddressAsAHostRouteInItsFamilysProtocol) {
  std::string text =
      renderBirdInclude("lb4_vips", {ip("198.18.1.100"), ip("2001:db8:1::1"), ip("198.18.1.7")});
  EXPECT_NE(text.find("protocol static lb4_vips4 {\n  ipv4;\n  route 198.18.1.7/32 blackhole;\n"
                      "  route 198.18.1.100/32 blackhole;\n}\n"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find("protocol static lb4_vips6 {\n  ipv6;\n  route 2001:db8:1::1/128 blackhole;\n}"),
      std::string::npos)
      << text;
}

TEST(BirdIncludeTest, NothingToAnnounceStillDefinesBothProtocols) {
  std::string text = renderBirdInclude("x", {});
  EXPECT_NE(text.find("protocol static x4 {\n  ipv4;\n}\n"), std::string::npos) << text;
  EXPECT_NE(text.find("protocol static x6 {\n  ipv6;\n}\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("route"), std::string::npos);
}

TEST(BirdReplyTest, ReplyEndsAtTheFirstCodeFollowedByASpace) {
  BirdReply r;
  EXPECT_FALSE(r.feed("0002-Reading configuration from /etc/bird/bird.conf"));
  EXPECT_TRUE(r.feed("0003 Reconfigured"));
  EXPECT_TRUE(r.status().ok());
  EXPECT_EQ(r.text(), "Reading configuration from /etc/bird/bird.conf; Reconfigured");
}

TEST(BirdReplyTest, ErrorCodesFailWithBirdsText) {
  BirdReply r;
  EXPECT_FALSE(r.feed("0002-Reading configuration from /x.conf"));
  EXPECT_FALSE(r.feed(" more text"));
  EXPECT_TRUE(r.feed("8002 /x.conf:3:1 syntax error"));
  ASSERT_FALSE(r.status().ok());
  EXPECT_EQ(r.status().error(), "8002 /x.conf:3:1 syntax error");
}

TEST(BirdReplyTest, IncompleteReplyIsNotOk) {
  BirdReply r;
  r.feed("0002-Reading");
  EXPECT_FALSE(r.complete());
  EXPECT_FALSE(r.status().ok());
}

TEST(BgpConfigTest, OffByDefaultAndReadWhenGiven) {
  auto none = parseConfig("log_level: info\n", "t.yaml");
  ASSERT_TRUE(none.ok()) << none.error();
  EXPECT_FALSE(none->bgp.enabled);
  auto c = parseConfig(
      "bgp:\n  enabled: true\n  include_file: /run/lb4/vips.conf\n  bird_socket: /run/b.ctl\n"
      "  protocol: gw_vips\n  retry_ms: 500\n  timeout_ms: 1000\n  withdraw_on_stop: false\n",
      "t.yaml");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_TRUE(c->bgp.enabled);
  EXPECT_EQ(c->bgp.includeFile, "/run/lb4/vips.conf");
  EXPECT_EQ(c->bgp.birdSocket, "/run/b.ctl");
  EXPECT_EQ(c->bgp.protocol, "gw_vips");
  EXPECT_EQ(c->bgp.retryMs, 500u);
  EXPECT_EQ(c->bgp.timeoutMs, 1000u);
  EXPECT_FALSE(c->bgp.withdrawOnStop);
}

TEST(BgpConfigTest, BadValuesAreRefusedWithTheirLine) {
  struct Case {
    const char* yaml;
    const char* error;
  } cases[] = {
      {"bgp:\n  enabled: true\n  include_file: relative.conf\n",
       "config t.yaml:3: bgp.include_file 'relative.conf': an absolute path"},
      {"bgp:\n  protocol: 9lives\n", "config t.yaml:2: bgp.protocol: protocol name '9lives'"},
      {"bgp:\n  retry_ms: 10\n", "config t.yaml:2: bgp.retry_ms: must be from 100 to 60000"},
      {"bgp:\n  peer: x\n", "config t.yaml:2: bgp.peer: unknown field"},
      {"bgp:\n  enabled: maybe\n", "config t.yaml:2: bgp.enabled: cannot read 'maybe'"},
      {"bgp: []\n", "config t.yaml:1: bgp: expected a mapping"},
  };
  for (const auto& c : cases) {
    auto r = parseConfig(c.yaml, "t.yaml");
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_EQ(r.error().rfind(c.error, 0), 0u) << r.error();
  }
}

// Two VIPs on two addresses, one backend each, both in their tables.
struct Servable : ::testing::Test {
  void SetUp() override {
    ASSERT_TRUE(state.addVip(vipKey("198.18.1.1:80/tcp"), ForwardingMode::kDr, 13).ok());
    ASSERT_TRUE(state.addVip(vipKey("198.18.1.2:80/tcp"), ForwardingMode::kDr, 13).ok());
    for (const auto& v : state.vips) {
      view.rings[v.id] = {MaglevInput{.id = 1, .weight = 100, .key = "198.18.2.1:80"}};
    }
  }
  DesiredState state;
  KernelView view;
};

TEST_F(Servable, EveryVipWithABackendInItsTableIsAnnounced) {
  EXPECT_EQ(servableAddresses(state, view, {}, true),
            (std::set<IpAddress>{ip("198.18.1.1"), ip("198.18.1.2")}));
}

TEST_F(Servable, NothingWhileDetachedOrDrained) {
  EXPECT_TRUE(servableAddresses(state, view, {}, false).empty());
  state.gatewayDrained = true;
  EXPECT_TRUE(servableAddresses(state, view, {}, true).empty());
}

TEST_F(Servable, AVipWhoseBackendsAreAllDownIsWithdrawnAlone) {
  EXPECT_EQ(servableAddresses(state, view, {state.vips[0].id}, true),
            (std::set<IpAddress>{ip("198.18.1.2")}));
  view.rings[state.vips[1].id].clear();  // every backend drained or removed
  EXPECT_EQ(servableAddresses(state, view, {state.vips[0].id}, true), std::set<IpAddress>{});
}

TEST_F(Servable, AnAddressStaysWhileOneOfItsVipsCanServe) {
  ASSERT_TRUE(state.addVip(vipKey("198.18.1.1:443/tcp"), ForwardingMode::kDr, 13).ok());
  view.rings[state.vips[2].id] = {};
  EXPECT_EQ(servableAddresses(state, view, {state.vips[0].id}, true),
            (std::set<IpAddress>{ip("198.18.1.2")}));
  view.rings[state.vips[2].id] = {MaglevInput{.id = 3, .weight = 1, .key = "198.18.2.3:443"}};
  EXPECT_EQ(servableAddresses(state, view, {state.vips[0].id}, true),
            (std::set<IpAddress>{ip("198.18.1.1"), ip("198.18.1.2")}));
}

TEST(GatewayStatusTest, ShowsTheDrainTheServablePrefixesAndBgp) {
  DesiredState state;
  state.gatewayDrained = true;
  DaemonStatus st;
  st.servable = {"198.18.1.1/32"};
  json gw = renderStatus(st, state)["gateway"];
  EXPECT_EQ(gw["drained"], true);
  EXPECT_EQ(gw["servable"], json({"198.18.1.1/32"}));
  EXPECT_EQ(gw["bgp"], json({{"enabled", false}}));
  st.bgp = BgpStatus{.enabled = true,
                     .includeFile = "/i.conf",
                     .birdSocket = "/b.ctl",
                     .wanted = {"198.18.1.1/32"},
                     .announced = {},
                     .inSync = false,
                     .lastError = "BIRD configure: 8002 oops",
                     .failures = 3,
                     .lastOkAgoS = {}};
  json bgp = renderStatus(st, state)["gateway"]["bgp"];
  EXPECT_EQ(bgp["in_sync"], false);
  EXPECT_EQ(bgp["failures"], 3);
  EXPECT_EQ(bgp["last_error"], "BIRD configure: 8002 oops");
  EXPECT_TRUE(bgp["last_ok_s_ago"].is_null());
}

// A control socket that answers like BIRD: greeting, then `reply` to the
// first line it reads (recorded in `received`).
struct FakeBird {
  FakeBird(asio::io_context& io, std::string path, std::vector<std::string> reply)
      : acceptor(io, asio::local::stream_protocol::endpoint(path)), path(std::move(path)) {
    asio::co_spawn(io, serve(std::move(reply)), asio::detached);
  }
  ~FakeBird() { ::unlink(path.c_str()); }
  asio::awaitable<void> serve(std::vector<std::string> reply) {
    auto sock = co_await acceptor.async_accept(asio::use_awaitable);
    co_await asio::async_write(sock, asio::buffer(std::string("0001 BIRD 2.0.12 ready.\n")),
                               asio::use_awaitable);
    std::string buf;
    size_t n =
        co_await asio::async_read_until(sock, asio::dynamic_buffer(buf), '\n', asio::use_awaitable);
    received = buf.substr(0, n - 1);
    for (const auto& line : reply) {
      co_await asio::async_write(sock, asio::buffer(line + "\n"), asio::use_awaitable);
    }
    // Keep the connection open until the client closes it.
    buf.clear();
    auto [ec, more] = co_await asio::async_read_until(
        sock, asio::dynamic_buffer(buf), '\n', asio::experimental::as_tuple(asio::use_awaitable));
    (void)ec;
    (void)more;
  }
  asio::local::stream_protocol::acceptor acceptor;
  std::string path;
  std::string received;
};

std::string tempPath(const char* name) {
  return (std::filesystem::temp_directory_path() /
          (std::string("lb4-bgp-test-") + std::to_string(::getpid()) + "-" + name))
      .string();
}

Result<std::string> runCommand(asio::io_context& io, const std::string& path,
                               std::chrono::milliseconds timeout) {
  Result<std::string> out = makeError("not run");
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> { out = co_await birdCommand(path, "configure", timeout); },
      asio::detached);
  io.run_for(std::chrono::seconds(5));
  return out;
}

TEST(BirdCommandTest, ConfigureIsSentAndTheReplyRead) {
  asio::io_context io;
  FakeBird bird(io, tempPath("ok.ctl"),
                {"0002-Reading configuration from /b.conf", "0003 Reconfigured"});
  auto r = runCommand(io, bird.path, std::chrono::milliseconds(2000));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(bird.received, "configure");
  EXPECT_EQ(*r, "Reading configuration from /b.conf; Reconfigured");
}

TEST(BirdCommandTest, BirdsErrorIsReturned) {
  asio::io_context io;
  FakeBird bird(io, tempPath("err.ctl"),
                {"8002 /b.conf:7:3 syntax error, unexpected CF_SYM_UNDEFINED"});
  auto r = runCommand(io, bird.path, std::chrono::milliseconds(2000));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(),
            "BIRD configure: 8002 /b.conf:7:3 syntax error, unexpected CF_SYM_UNDEFINED");
}

TEST(BirdCommandTest, SilentSocketTimesOut) {
  asio::io_context io;
  FakeBird bird(io, tempPath("mute.ctl"), {"0002-Reading configuration"});  // never finishes
  auto r = runCommand(io, bird.path, std::chrono::milliseconds(200));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("no answer within 200 ms"), std::string::npos) << r.error();
}

TEST(BirdCommandTest, MissingSocketIsAnError) {
  asio::io_context io;
  auto r = runCommand(io, tempPath("absent.ctl"), std::chrono::milliseconds(500));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("connect"), std::string::npos) << r.error();
}

}  // namespace
}  // namespace lb4
