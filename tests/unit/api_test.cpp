// Control API request validation and CLI-facing parsers.
#include <gtest/gtest.h>

#include "userspace/api/protocol.h"

namespace lb4 {
namespace {

TEST(ApiTest, ParsesAValidRequest) {
  auto r = parseRequest(
      R"({"v":1,"op":"add-backend","vip":"198.18.1.100:80/tcp","backend":"198.18.0.11","weight":5,"mac":"02:00:00:00:00:11"})");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->op, Op::kAddBackend);
  EXPECT_EQ(r->vip->toString(), "198.18.1.100:80/tcp");
  EXPECT_EQ(r->backend->toString(), "198.18.0.11");
  EXPECT_EQ(*r->weight, 5u);
  EXPECT_EQ(formatMac(*r->mac), "02:00:00:00:00:11");
}

TEST(ApiTest, RoundTripsThroughJson) {
  Request req;
  req.op = Op::kAddVip;
  req.vip = *ServiceKey::parse("[2001:db8::1]:443/udp");
  req.mode = ForwardingMode::kDr;
  req.ringSize = 13;
  auto back = parseRequest(req.toJson().dump());
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->toJson(), req.toJson());
}

TEST(ApiTest, RejectsBadRequestsClearly) {
  struct Case {
    std::string line;
    const char* expect;
  };
  const Case cases[] = {
      {"not json", "not valid JSON"},
      {"[1,2]", "expected a JSON object"},
      {R"({"op":"list"})", "missing protocol version"},
      {R"({"v":2,"op":"list"})", "version 2 not supported"},
      {R"({"v":1})", "missing 'op'"},
      {R"({"v":1,"op":"explode"})", "unknown op 'explode'"},
      {R"({"v":1,"op":"list","extra":1})", "does not take field 'extra'"},
      {R"({"v":1,"op":"add-vip"})", "needs field 'vip'"},
      {R"({"v":1,"op":"add-vip","vip":5})", "must be a string"},
      {R"({"v":1,"op":"add-vip","vip":"198.18.1.1:80/sctp"})", "expected tcp or udp"},
      {R"({"v":1,"op":"add-vip","vip":"198.18.1.300:80/tcp"})", "not a valid"},
      {R"({"v":1,"op":"add-vip","vip":"198.18.1.1:99999/tcp"})", "1 to 65535"},
      {R"({"v":1,"op":"add-vip","vip":"198.18.1.1:80/tcp","mode":"teleport"})", "expected dr"},
      {R"({"v":1,"op":"add-vip","vip":"198.18.1.1:80/tcp","ring_size":100})", "prime"},
      {R"({"v":1,"op":"add-vip","vip":"198.18.1.1:0/tcp"})", "port must be"},
      {R"({"v":1,"op":"add-vip","vip":"198.18.1.1:80/tcp","all_ports":true})", "without a port"},
      {R"({"v":1,"op":"add-vip","vip":"198.18.1.1/tcp","all_ports":1})", "true or false"},
      {R"({"v":1,"op":"add-backend","vip":"198.18.1.1:80/tcp","backend":"198.18.0.1","weight":-1})",
       "non-negative integer"},
      {R"({"v":1,"op":"add-backend","vip":"198.18.1.1:80/tcp","backend":"198.18.0.1","weight":70000})",
       "out of range"},
      {R"({"v":1,"op":"add-backend","vip":"198.18.1.1:80/tcp","backend":"198.18.0.1","mac":"zz"})",
       "parse MAC"},
      {R"({"v":1,"op":"attach","interface":"../etc"})", "not a valid interface"},
      {R"({"v":1,"op":"attach","interface":"veth0","generic":"yes"})", "true or false"},
      {std::string(kMaxRequestBytes + 1, ' '), "longer than"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line.substr(0, 80));
    auto r = parseRequest(c.line);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find(c.expect), std::string::npos) << r.error();
    EXPECT_EQ(r.error().find('\n'), std::string::npos);
  }
}

TEST(ApiTest, AllPortsVipNeedsTheFlag) {
  auto r = parseRequest(R"({"v":1,"op":"add-vip","vip":"198.18.1.1/tcp","all_ports":true})");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->vip->port, 0);
  EXPECT_TRUE(parseRequest(R"({"v":1,"op":"del-vip","vip":"198.18.1.1:0/tcp"})").ok());
}

TEST(ApiTest, SetHealthCarriesAValidatedPatch) {
  auto r = parseRequest(
      R"({"v":1,"op":"set-health","vip":"198.18.1.1:80/tcp","health":{"kind":"http","http_path":"/h"}})");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ((*r->health)["kind"], "http");
  EXPECT_FALSE(
      parseRequest(R"({"v":1,"op":"set-health","vip":"198.18.1.1:80/tcp","health":5})").ok());
  auto bad = parseRequest(
      R"({"v":1,"op":"set-health","vip":"198.18.1.1:80/tcp","health":{"interval":5}})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("unknown field 'interval'"), std::string::npos) << bad.error();
  EXPECT_TRUE(parseRequest(R"({"v":1,"op":"health","vip":"198.18.1.1:80/tcp"})").ok());
}

TEST(ApiTest, TraceNeedsClientPortAndVipPort) {
  auto r = parseRequest(
      R"({"v":1,"op":"trace","vip":"[2001:db8:1::1]:80/tcp","client":"[2001:db8::10]:40000"})");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->op, Op::kTrace);
  EXPECT_EQ(r->client->toString(), "[2001:db8::10]:40000");
  auto back = parseRequest(r->toJson().dump());
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->toJson(), r->toJson());

  struct Case {
    std::string line;
    const char* expect;
  };
  const Case cases[] = {
      {R"({"v":1,"op":"trace","vip":"198.18.1.1:80/tcp"})", "needs field 'client'"},
      {R"({"v":1,"op":"trace","client":"198.18.0.10:4000"})", "needs field 'vip'"},
      {R"({"v":1,"op":"trace","vip":"198.18.1.1:80/tcp","client":"198.18.0.10"})",
       "needs its source port"},
      {R"({"v":1,"op":"trace","vip":"198.18.1.1:80/tcp","client":"198.18.0.10:0"})",
       "port must be from 1 to 65535"},
      {R"({"v":1,"op":"trace","vip":"198.18.1.1:80/tcp","client":"198.18.0.300:5"})",
       "parse client"},
      {R"({"v":1,"op":"trace","vip":"198.18.1.1:80/tcp","client":5})", "must be a string"},
      {R"({"v":1,"op":"trace","vip":"198.18.1.1/tcp","client":"198.18.0.10:4000"})",
       "needs its port"},
      {R"({"v":1,"op":"trace","vip":"198.18.1.1:80/sctp","client":"198.18.0.10:4000"})",
       "expected tcp or udp"},
      {R"({"v":1,"op":"trace","vip":"198.18.1.1:80/tcp","client":"[2001:db8::10]:4000"})",
       "different address families"},
      {R"({"v":1,"op":"trace","vip":"198.18.1.1:80/tcp","client":"198.18.0.10:4000","x":1})",
       "does not take field 'x'"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line);
    auto bad = parseRequest(c.line);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().find(c.expect), std::string::npos) << bad.error();
    EXPECT_EQ(bad.error().find('\n'), std::string::npos);
  }
}

TEST(ApiTest, Replies) {
  auto ok = parseReply(replyOk({{"x", 1}}));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)["x"], 1);
  auto err = parseReply(replyError("add VIP x: already exists"));
  ASSERT_FALSE(err.ok());
  EXPECT_EQ(err.error(), "add VIP x: already exists");
  EXPECT_FALSE(parseReply("garbage").ok());
}

TEST(NetParseTest, ServiceKeysAndEndpoints) {
  EXPECT_EQ(ServiceKey::parse("198.18.1.1:80/tcp")->toString(), "198.18.1.1:80/tcp");
  EXPECT_EQ(ServiceKey::parse("[2001:db8::1]:53/udp")->toString(), "[2001:db8::1]:53/udp");
  EXPECT_FALSE(ServiceKey::parse("198.18.1.1:0/tcp").ok());
  EXPECT_TRUE(ServiceKey::parse("198.18.1.1:0/tcp", true).ok());
  EXPECT_FALSE(ServiceKey::parse("198.18.1.1:80").ok());
  EXPECT_FALSE(ServiceKey::parse("[2001:db8::1:53/udp").ok());
  EXPECT_EQ(Endpoint::parse("2001:db8::5")->toString(), "2001:db8::5");
  EXPECT_EQ(Endpoint::parse("[2001:db8::5]:8080")->toString(), "[2001:db8::5]:8080");
  EXPECT_EQ(Endpoint::parse("198.18.0.5:8080")->port, 8080);
  EXPECT_FALSE(Endpoint::parse("198.18.0.5:0").ok());
  EXPECT_FALSE(Endpoint::parse("host.example").ok());
  EXPECT_FALSE(parseMac("02:00:00:00:00").ok());
  EXPECT_FALSE(parseMac("02-00-00-00-00-01").ok());
  EXPECT_EQ(formatMac(*parseMac("02:AB:00:00:00:01")), "02:ab:00:00:00:01");
}

TEST(NetParseTest, PrefixesNameExactlyOneNetwork) {
  EXPECT_EQ(IpPrefix::parse("198.18.0.0/15")->toString(), "198.18.0.0/15");
  EXPECT_EQ(IpPrefix::parse("198.18.0.7")->toString(), "198.18.0.7/32");
  EXPECT_EQ(IpPrefix::parse("2001:db8:1::/48")->toString(), "2001:db8:1::/48");
  EXPECT_EQ(IpPrefix::parse("2001:db8::1")->length, 128);
  EXPECT_EQ(IpPrefix::parse("0.0.0.0/0")->length, 0);
  EXPECT_EQ(IpPrefix::parse("::/0")->addr.family, Family::kIpv6);
  for (const char* bad : {"198.18.0.0/33", "198.18.0.0/", "198.18.0.0/-1", "198.18.0.0/08",
                          "198.18.0.0/1x", "2001:db8::/129", "example/8", "/8", ""}) {
    EXPECT_FALSE(IpPrefix::parse(bad).ok()) << bad;
  }
  auto host = IpPrefix::parse("198.18.0.1/16");
  ASSERT_FALSE(host.ok());
  EXPECT_EQ(host.error(),
            "parse prefix '198.18.0.1/16': host bits set (the prefix is 198.18.0.0/16)");
  EXPECT_FALSE(IpPrefix::parse("2001:db8::1/64").ok());
  EXPECT_TRUE(IpPrefix::parse("198.18.0.0/15")->contains(*IpAddress::parse("198.19.255.255")));
  EXPECT_FALSE(IpPrefix::parse("198.18.0.0/15")->contains(*IpAddress::parse("198.20.0.0")));
  EXPECT_FALSE(IpPrefix::parse("0.0.0.0/0")->contains(*IpAddress::parse("2001:db8::1")));
}

TEST(ApiTest, SourceListsAreParsedAndCheckedAgainstTheVip) {
  auto req = parseRequest(
      R"({"v":1,"op":"set-sources","vip":"198.18.1.1:80/tcp","allow":["198.18.0.0/16"],)"
      R"("deny":["198.18.9.0/24"]})");
  ASSERT_TRUE(req.ok()) << req.error();
  EXPECT_EQ(req->op, Op::kSetSources);
  ASSERT_TRUE(req->allow && req->deny);
  EXPECT_EQ(req->allow->at(0).toString(), "198.18.0.0/16");
  EXPECT_EQ(parseRequest(req->toJson().dump())->toJson(), req->toJson());
  auto add =
      parseRequest(R"({"v":1,"op":"add-vip","vip":"198.18.1.1:80/tcp","deny":["198.18.0.1"]})");
  ASSERT_TRUE(add.ok()) << add.error();
  EXPECT_FALSE(add->allow.has_value());
  EXPECT_EQ(add->deny->at(0).toString(), "198.18.0.1/32");

  struct Case {
    const char* line;
    const char* error;
  };
  const Case cases[] = {
      {R"({"v":1,"op":"set-sources","vip":"198.18.1.1:80/tcp","allow":"198.18.0.0/16"})",
       "bad request: set-sources: field 'allow': expected a list of prefixes"},
      {R"({"v":1,"op":"set-sources","vip":"198.18.1.1:80/tcp","allow":[7]})",
       "bad request: set-sources: field 'allow': expected a prefix string, got 7"},
      {R"({"v":1,"op":"set-sources","vip":"198.18.1.1:80/tcp","deny":["198.18.0.1/8"]})",
       "bad request: set-sources: field 'deny': parse prefix '198.18.0.1/8': host bits set (the "
       "prefix is 198.0.0.0/8)"},
      {R"({"v":1,"op":"set-sources","vip":"198.18.1.1:80/tcp","allow":["2001:db8::/32"]})",
       "bad request: set-sources: allow prefix 2001:db8::/32 is not of the VIP's address family"},
      {R"({"v":1,"op":"set-sources","vip":"198.18.1.1:80/tcp","allow":["198.18.0.0/16"],)"
       R"("deny":["198.18.0.0/16"]})",
       "bad request: set-sources: prefix 198.18.0.0/16 is in both the allow and the deny list"},
      {R"({"v":1,"op":"set-sources","vip":"198.18.1.1:80/tcp","deny":["198.18.0.0/16",)"
       R"("198.18.0.0/16"]})",
       "bad request: set-sources: deny prefix 198.18.0.0/16 listed twice"},
      {R"({"v":1,"op":"set-sources","allow":["198.18.0.0/16"]})",
       "bad request: set-sources needs field 'vip'"},
  };
  for (const auto& c : cases) {
    auto r = parseRequest(c.line);
    ASSERT_FALSE(r.ok()) << c.line;
    EXPECT_EQ(r.error(), c.error);
  }
}

}  // namespace
}  // namespace lb4
