#include "cli/suggest.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace lb4::cli {

size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::optional<std::string> firstWord(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--socket") {
      ++i;  // its value
      continue;
    }
    if (!a.empty() && a.front() == '-') {
      continue;
    }
    return std::string(a);
  }
  return std::nullopt;
}

std::optional<std::string> unknownCommand(const CLI::App& app, const std::string& word) {
  std::string best;
  size_t bestDistance = SIZE_MAX;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_name() == word) {
      return std::nullopt;
    }
    size_t d = editDistance(word, sub->get_name());
    if (d < bestDistance) {
      bestDistance = d;
      best = sub->get_name();
    }
  }
  if (bestDistance <= std::max<size_t>(2, word.size() / 3)) {
    return fmt::format("unknown command '{}' (did you mean '{}'?)", word, best);
  }
  return fmt::format("unknown command '{}' (lb4ctl --help lists the commands)", word);
}

}  // namespace lb4::cli
