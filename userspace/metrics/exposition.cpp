#include "userspace/metrics/exposition.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace lb4 {
namespace {

[[noreturn]] void invariant(std::string_view what, std::string_view name) {
  std::fprintf(stderr, "lb4 metrics: %.*s: %.*s\n", static_cast<int>(what.size()), what.data(),
               static_cast<int>(name.size()), name.data());
  std::abort();
}

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

std::string_view metricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

Histogram::Histogram(std::vector<double> upperBounds)
    : bounds(std::move(upperBounds)), counts(bounds.size() + 1, 0) {}

void Histogram::observe(double value) {
  auto it = std::lower_bound(bounds.begin(), bounds.end(), value);
  counts[static_cast<size_t>(it - bounds.begin())] += 1;
  sum += value;
}

uint64_t Histogram::count() const {
  uint64_t n = 0;
  for (uint64_t c : counts) {
    n += c;
  }
  return n;
}

std::string escapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string escapeHelp(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string formatValue(double value) {
  if (std::isnan(value)) {
    return "NaN";
  }
  if (std::isinf(value)) {
    return value > 0 ? "+Inf" : "-Inf";
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  (void)ec;  // 64 characters hold any double
  return std::string(buf, end);
}

bool validMetricName(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) {
      return false;
    }
  }
  return true;
}

bool validLabelName(std::string_view name) {
  return validMetricName(name) && name.find(':') == std::string_view::npos &&
         name.substr(0, 2) != "__";
}

void Exposition::begin(std::string_view name, MetricType type, std::string_view help) {
  if (!validMetricName(name)) {
    invariant("bad metric name", name);
  }
  if (std::find(begun_.begin(), begun_.end(), name) != begun_.end()) {
    invariant("metric family begun twice", name);
  }
  bool total = endsWith(name, "_total");
  if ((type == MetricType::kCounter) != total) {
    invariant("counters, and only counters, end in _total", name);
  }
  begun_.emplace_back(name);
  current_ = std::string(name);
  type_ = type;
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += escapeHelp(help);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += metricTypeName(type);
  out_ += '\n';
}

void Exposition::series(std::string_view suffix, const Labels& labels,
                        const std::pair<std::string_view, std::string>* extra,
                        std::string_view value) {
  out_ += current_;
  out_ += suffix;
  if (!labels.empty() || extra) {
    out_ += '{';
    bool first = true;
    auto add = [&](std::string_view name, const std::string& v) {
      if (!validLabelName(name) || name == "le") {
        invariant("bad label name", name);
      }
      if (!first) {
        out_ += ',';
      }
      first = false;
      out_ += name;
      out_ += "=\"";
      out_ += escapeLabelValue(v);
      out_ += '"';
    };
    for (const auto& [name, v] : labels) {
      add(name, v);
    }
    if (extra) {
      // "le" is reserved for the histogram's own buckets.
      if (!first) {
        out_ += ',';
      }
      out_ += extra->first;
      out_ += "=\"";
      out_ += extra->second;
      out_ += '"';
    }
    out_ += '}';
  }
  out_ += ' ';
  out_ += value;
  out_ += '\n';
}

void Exposition::sample(const Labels& labels, double value) {
  if (current_.empty() || type_ == MetricType::kHistogram) {
    invariant("plain sample outside a counter or gauge family", current_);
  }
  series("", labels, nullptr, formatValue(value));
}

void Exposition::sample(const Labels& labels, uint64_t value) {
  if (current_.empty() || type_ == MetricType::kHistogram) {
    invariant("plain sample outside a counter or gauge family", current_);
  }
  series("", labels, nullptr, std::to_string(value));
}

void Exposition::histogram(const Labels& labels, const Histogram& h) {
  if (type_ != MetricType::kHistogram || h.counts.size() != h.bounds.size() + 1) {
    invariant("histogram outside a histogram family, or with bad buckets", current_);
  }
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= h.bounds.size(); ++i) {
    cumulative += h.counts[i];
    std::pair<std::string_view, std::string> le{
        "le", i < h.bounds.size() ? formatValue(h.bounds[i]) : std::string("+Inf")};
    series("_bucket", labels, &le, std::to_string(cumulative));
  }
  series("_sum", labels, nullptr, formatValue(h.sum));
  series("_count", labels, nullptr, std::to_string(cumulative));
}

}  // namespace lb4
