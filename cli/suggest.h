// Help for a mistyped subcommand.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace lb4::cli {

size_t editDistance(std::string_view a, std::string_view b);

// The first word of the command line that is neither an option nor an
// option's value: where the subcommand should be.
std::optional<std::string> firstWord(int argc, char** argv);

// "unknown command 'lsit' (did you mean 'list'?)", or nullopt when `word`
// names a subcommand.
std::optional<std::string> unknownCommand(const CLI::App& app, const std::string& word);

}  // namespace lb4::cli
