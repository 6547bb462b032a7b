// lb4 installed as a system service: `cmake --install` into a scratch
// DESTDIR puts every file where GNUInstallDirs says and nothing outside it;
// the installed unit passes `systemd-analyze verify`; the manual pages and
// the bash completion know every option the binaries' --help shows;
// --version names the version and commit; --check-config validates and
// touches nothing.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace fs = std::filesystem;

namespace {

const std::string kBuild = LB4_BUILD_DIR;
const std::string kLb4d = kBuild + "/userspace/lb4d";
const std::string kLb4ctl = kBuild + "/cli/lb4ctl";

struct Outcome {
  int status = -1;
  std::string out;  // standard output
  std::string err;  // standard error
};

std::string readFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// A scratch directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "lb4-install-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Runs `command` through sh, stdout and stderr captured apart.
Outcome run(const std::string& command) {
  TempDir tmp;
  fs::path out = tmp.path() / "out";
  fs::path err = tmp.path() / "err";
  Outcome r;
  int raw = std::system((command + " >" + out.string() + " 2>" + err.string()).c_str());
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = readFile(out);
  r.err = readFile(err);
  return r;
}

// Every "--long-option" a --help text lists.
std::set<std::string> longOptions(const std::string& help) {
  std::set<std::string> out;
  static const std::regex opt(R"((^|[\s,])(--[a-z][a-z-]*))");
  for (auto it = std::sregex_iterator(help.begin(), help.end(), opt); it != std::sregex_iterator();
       ++it) {
    out.insert((*it)[2]);
  }
  return out;
}

// Subcommand names of lb4ctl --help.
std::vector<std::string> subcommands() {
  Outcome help = run(kLb4ctl + " --help");
  std::vector<std::string> subs;
  std::istringstream in(help.out);
  bool inSubs = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Subcommands:", 0) == 0) {
      inSubs = true;
      continue;
    }
    std::smatch m;
    if (inSubs && std::regex_search(line, m, std::regex(R"(^  ([a-z][a-z-]*)\s)"))) {
      subs.push_back(m[1]);
    }
  }
  return subs;
}

// man's roff escapes hyphens: "\-\-check\-config".
std::string unRoff(std::string text) { return std::regex_replace(text, std::regex(R"(\\-)"), "-"); }

class InstallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dest_.path().empty());
    Outcome r =
        run("DESTDIR=" + dest_.path().string() + " " + LB4_CMAKE_COMMAND + " --install " + kBuild);
    ASSERT_EQ(r.status, 0) << r.out << r.err;
  }
  fs::path at(const std::string& absolute) const { return dest_.path().string() + absolute; }

  TempDir dest_;
};

TEST_F(InstallTest, EveryFileInItsPlaceAndNothingElse) {
  const std::set<std::string> expected = {
      LB4_INSTALL_SBINDIR "/lb4d",
      LB4_INSTALL_BINDIR "/lb4ctl",
      LB4_INSTALL_UNIT_DIR "/lb4d.service",
      LB4_INSTALL_CONFIG_FILE,
      LB4_INSTALL_DATADIR "/bash-completion/completions/lb4ctl",
      LB4_INSTALL_MANDIR "/man8/lb4d.8",
      LB4_INSTALL_MANDIR "/man8/lb4ctl.8",
      LB4_INSTALL_MANDIR "/man5/lb4.yaml.5",
      LB4_INSTALL_DATADIR "/doc/lb4/README.md",
      LB4_INSTALL_DATADIR "/doc/lb4/install.md",
  };
  std::set<std::string> installed;
  for (const auto& entry : fs::recursive_directory_iterator(dest_.path())) {
    if (!entry.is_directory()) {
      installed.insert("/" + fs::relative(entry.path(), dest_.path()).string());
    }
  }
  EXPECT_EQ(installed, expected);
  EXPECT_TRUE(::access(at(LB4_INSTALL_SBINDIR "/lb4d").c_str(), X_OK) == 0);
  EXPECT_TRUE(::access(at(LB4_INSTALL_BINDIR "/lb4ctl").c_str(), X_OK) == 0);
}

TEST_F(InstallTest, UnitPassesSystemdAnalyzeVerify) {
  std::string unit = readFile(at(LB4_INSTALL_UNIT_DIR "/lb4d.service"));
  ASSERT_FALSE(unit.empty());
  EXPECT_NE(
      unit.find("ExecStart=" LB4_INSTALL_SBINDIR "/lb4d --config " LB4_INSTALL_CONFIG_FILE "\n"),
      std::string::npos)
      << unit;
  for (const char* line : {"Type=notify\n", "Restart=on-failure\n", "RuntimeDirectory=lb4\n",
                           "StateDirectory=lb4\n", "WatchdogSec="}) {
    EXPECT_NE(unit.find(line), std::string::npos) << line;
  }
  // systemd-analyze checks that ExecStart is executable: point it at the
  // binary just installed into DESTDIR (a unit file of the same name).
  TempDir tmp;
  std::string local = std::regex_replace(unit, std::regex("ExecStart=" LB4_INSTALL_SBINDIR),
                                         "ExecStart=" + at(LB4_INSTALL_SBINDIR).string());
  std::ofstream(tmp.path() / "lb4d.service") << local;
  Outcome v = run("systemd-analyze verify --man=no " + (tmp.path() / "lb4d.service").string());
  ASSERT_NE(v.status, 127)
      << "systemd-analyze is missing (scripts/install-deps.sh installs systemd)";
  EXPECT_EQ(v.status, 0) << v.out << v.err;
  // Unknown keys and bad values are only warnings to systemd: none allowed.
  EXPECT_EQ(v.out + v.err, "");
}

TEST_F(InstallTest, ManualPagesCarryEveryOption) {
  std::string lb4d = unRoff(readFile(at(LB4_INSTALL_MANDIR "/man8/lb4d.8")));
  for (const std::string& opt : longOptions(run(kLb4d + " --help").out)) {
    EXPECT_NE(lb4d.find(opt), std::string::npos) << "lb4d.8 lacks " << opt;
  }
  EXPECT_NE(lb4d.find("--check-config"), std::string::npos);
  std::string lb4ctl = unRoff(readFile(at(LB4_INSTALL_MANDIR "/man8/lb4ctl.8")));
  std::vector<std::string> subs = subcommands();
  ASSERT_GE(subs.size(), 10u);
  for (const std::string& sub : subs) {
    EXPECT_NE(lb4ctl.find(".SS " + sub + "\n"), std::string::npos) << "lb4ctl.8 lacks " << sub;
    for (const std::string& opt : longOptions(run(kLb4ctl + " " + sub + " --help").out)) {
      EXPECT_NE(lb4ctl.find(opt), std::string::npos) << "lb4ctl.8 lacks " << sub << " " << opt;
    }
  }
  std::string yaml = unRoff(readFile(at(LB4_INSTALL_MANDIR "/man5/lb4.yaml.5")));
  for (const char* key : {"socket:", "conntrack_udp_timeout_s:", "scoring.latency_min_factor:",
                          "vips[].backends[].health.command:", "vips[].health.udp_expect:"}) {
    EXPECT_NE(yaml.find(key), std::string::npos) << "lb4.yaml.5 lacks " << key;
  }
}

TEST_F(InstallTest, BashCompletionKnowsEverySubcommandAndOption) {
  std::string completion = readFile(at(LB4_INSTALL_DATADIR "/bash-completion/completions/lb4ctl"));
  std::smatch m;
  ASSERT_TRUE(std::regex_search(completion, m, std::regex(R"(local subcommands="([^"]*)\")")));
  std::set<std::string> listed;
  std::istringstream words(m[1].str());
  for (std::string w; words >> w;) listed.insert(w);
  std::vector<std::string> subs = subcommands();
  EXPECT_EQ(listed, std::set<std::string>(subs.begin(), subs.end()));
  for (const std::string& sub : subs) {
    for (const std::string& opt : longOptions(run(kLb4ctl + " " + sub + " --help").out)) {
      EXPECT_NE(completion.find(opt), std::string::npos)
          << "completion lacks " << sub << " " << opt;
    }
  }
  EXPECT_EQ(run("bash -n " + at(LB4_INSTALL_DATADIR "/bash-completion/completions/lb4ctl").string())
                .status,
            0);
}

TEST(VersionTest, BothBinariesNameVersionAndCommit) {
  const std::regex version("^(lb4d|lb4ctl) " LB4_PROJECT_VERSION R"( \(git [0-9a-z.-]+\)\n$)");
  for (const std::string& bin : {kLb4d, kLb4ctl}) {
    Outcome r = run(bin + " --version");
    EXPECT_EQ(r.status, 0) << bin;
    EXPECT_TRUE(std::regex_match(r.out, version)) << bin << ": '" << r.out << "'";
  }
}

TEST(CheckConfigTest, ValidFileExitsZeroAndTouchesNothing) {
  TempDir tmp;
  fs::path cfg = tmp.path() / "lb4.yaml";
  std::ofstream(cfg)
      << "socket: " << (tmp.path() / "sock").string() << "\n"
      << "state_file: " << (tmp.path() / "state.json").string() << "\n"
      << "pin_root: " << (tmp.path() / "pins").string() << "\n"
      << "interfaces: [lo]\n"
      << "vips:\n  - vip: 198.18.1.100:80/tcp\n    backends: [{address: 198.18.0.11}]\n";
  Outcome r = run(kLb4d + " --check-config " + cfg.string());
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  std::set<std::string> left;
  for (const auto& entry : fs::directory_iterator(tmp.path())) {
    left.insert(entry.path().filename().string());
  }
  EXPECT_EQ(left, std::set<std::string>{"lb4.yaml"});
}

TEST(CheckConfigTest, ShippedExampleIsValid) {
  Outcome r = run(kLb4d + " --check-config " LB4_SOURCE_DIR "/dist/lb4.yaml");
  EXPECT_EQ(r.status, 0) << r.err;
}

TEST(CheckConfigTest, BadFileGivesOneErrorLineAndTouchesNothing) {
  TempDir tmp;
  fs::path cfg = tmp.path() / "lb4.yaml";
  std::ofstream(cfg) << "socket: " << (tmp.path() / "sock").string() << "\n"
                     << "state_file: " << (tmp.path() / "state.json").string() << "\n"
                     << "conntrack_size: 12\n";
  Outcome r = run(kLb4d + " --check-config " + cfg.string());
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("lb4.yaml:3: conntrack_size"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp.path() / "sock"));
  EXPECT_FALSE(fs::exists(tmp.path() / "state.json"));

  Outcome missing = run(kLb4d + " --check-config " + (tmp.path() / "nope.yaml").string());
  EXPECT_NE(missing.status, 0);
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;
}

}  // namespace
