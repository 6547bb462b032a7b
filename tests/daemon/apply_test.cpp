// lb4ctl apply / diff against a running lb4d (no interface attached): the
// file's VIPs and backends become the gateway's, diff says whether they
// differ (exit 5), a dry run and a bad file change nothing.
#include <fstream>

#include "daemon_fixture.h"

namespace lb4::test {
namespace {

class ApplyCliTest : public DaemonTest {
 protected:
  std::string writeFile(const std::string& name, const std::string& text) {
    std::string path = (work_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  // The VIPs and backends of `list --json`, without what changes by itself.
  std::string shape() {
    std::string out;
    for (const auto& v : listJson()) {
      out += v["vip"].get<std::string>() + " " + v["mode"].get<std::string>() + ":";
      for (const auto& b : v["backends"]) {
        out += " " + b["address"].get<std::string>() + "=" + std::to_string(b["weight"].get<int>());
      }
      out += ";";
    }
    return out;
  }
};

TEST_F(ApplyCliTest, DiffApplyAndAgainNothing) {
  startDaemon();
  ASSERT_EQ(ctl({"add-vip", "198.18.1.100:80/tcp", "--mode", "nat"}).status, 0);
  ASSERT_EQ(ctl({"add-backend", "198.18.1.100:80/tcp", "198.18.0.11", "--weight", "7"}).status, 0);
  ASSERT_EQ(ctl({"add-vip", "198.18.1.109:80/tcp", "--mode", "nat"}).status, 0);
  std::string before = shape();
  std::string file = writeFile("gateway.yaml", R"(vips:
  - vip: 198.18.1.100:80/tcp
    mode: nat
    backends:
      - address: 198.18.0.11
        weight: 100
      - address: 198.18.0.12:8080
  - vip: 198.18.1.101:53/udp
    mode: nat
    backends:
      - address: 198.18.0.13
)");

  auto diff = ctl({"diff", "-f", file});
  EXPECT_EQ(diff.status, 5) << diff.err;
  EXPECT_EQ(diff.out,
            "would del-vip 198.18.1.109:80/tcp\n"
            "would set-weight 198.18.0.11 of 198.18.1.100:80/tcp to 100\n"
            "would add-backend 198.18.0.12:8080 to 198.18.1.100:80/tcp weight 100\n"
            "would add-vip 198.18.1.101:53/udp mode nat ring 65537\n"
            "would add-backend 198.18.0.13 to 198.18.1.101:53/udp weight 100\n");
  auto dry = ctl({"apply", "-f", file, "--dry-run"});
  EXPECT_EQ(dry.status, 0) << dry.err;
  EXPECT_EQ(dry.out, diff.out);
  EXPECT_EQ(shape(), before) << "a dry run changed the gateway";

  auto applied = ctl({"apply", "-f", file});
  EXPECT_EQ(applied.status, 0) << applied.err;
  EXPECT_EQ(applied.out.find("would"), std::string::npos) << applied.out;
  EXPECT_NE(applied.out.find("add-vip 198.18.1.101:53/udp mode nat ring 65537\n"),
            std::string::npos)
      << applied.out;
  EXPECT_EQ(shape(),
            "198.18.1.100:80/tcp nat: 198.18.0.11=100 198.18.0.12:8080=100;"
            "198.18.1.101:53/udp nat: 198.18.0.13=100;");
  // Persisted like any change.
  auto state = nlohmann::json::parse(std::ifstream(state_), nullptr, false);
  ASSERT_TRUE(state.is_object());
  EXPECT_EQ(state["vips"].size(), 2u);

  auto same = ctl({"diff", "-f", file});
  EXPECT_EQ(same.status, 0) << same.out << same.err;
  EXPECT_EQ(same.out, "no changes: the gateway runs " + file + "\n");
  auto json = ctl({"--json", "apply", "-f", file});
  EXPECT_EQ(json.status, 0);
  EXPECT_EQ(nlohmann::json::parse(json.out, nullptr, false),
            (nlohmann::json{{"changes", nlohmann::json::array()}, {"applied", false}}));
}

TEST_F(ApplyCliTest, ABadFileIsOneLineAndChangesNothing) {
  startDaemon();
  ASSERT_EQ(ctl({"add-vip", "198.18.1.100:80/tcp", "--mode", "nat"}).status, 0);
  std::string before = shape();
  struct Case {
    std::string text;
    std::string error;
  };
  const Case cases[] = {
      {"vips:\n  - vip: 198.18.1.100:80/tcp\n    backends:\n      - address: 198.18.0.1\n"
       "        weight: 70000\n",
       "lb4ctl: config apply:5: vips[0].backends[0].weight: weight 70000 out of range 0..65535\n"},
      {"vips: [unclosed\n", "lb4ctl: config apply:"},
      {"vips:\n  - vip: 198.18.1.100:80/tcp\n    deny: [198.18.0.1/8]\n",
       "lb4ctl: config apply:3: vips[0].deny[0]: parse prefix '198.18.0.1/8': host bits set"},
  };
  for (const auto& c : cases) {
    auto r = ctl({"apply", "-f", writeFile("bad.yaml", c.text)});
    EXPECT_EQ(r.status, 1) << c.text;
    EXPECT_EQ(r.err.rfind(c.error, 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(shape(), before);
  }
  auto missing = ctl({"apply", "-f", (work_ / "nope.yaml").string()});
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("cannot read"), std::string::npos) << missing.err;
  auto usage = ctl({"apply"});
  EXPECT_EQ(usage.status, 2) << usage.err;
}

}  // namespace
}  // namespace lb4::test
