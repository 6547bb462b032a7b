// Prometheus text exposition format, version 0.0.4: metric families with
// their # HELP and # TYPE lines, samples with escaped label values, and
// histograms as cumulative _bucket/_sum/_count series. Pure text building,
// no I/O; lb4_metrics.h decides which families lb4d exposes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lb4 {

enum class MetricType { kCounter, kGauge, kHistogram };
std::string_view metricTypeName(MetricType type);

// Label name and value, in the order they are printed.
using Labels = std::vector<std::pair<std::string_view, std::string>>;

// Observations in buckets with upper bounds `bounds` (ascending, +Inf
// implied); counts[i] are the observations in bucket i only (counts has
// bounds.size() + 1 entries, the last for +Inf).
struct Histogram {
  std::vector<double> bounds;
  std::vector<uint64_t> counts;
  double sum = 0;

  explicit Histogram(std::vector<double> upperBounds = {});
  void observe(double value);
  uint64_t count() const;
};

// Label value escaping: backslash, double quote and line feed become \\, \"
// and \n; everything else (UTF-8 included) is copied.
std::string escapeLabelValue(std::string_view value);
// HELP text escaping: backslash and line feed.
std::string escapeHelp(std::string_view text);
// A sample value: integers without a fraction, +Inf, -Inf, NaN, else the
// shortest text that reads back as the same double.
std::string formatValue(double value);
// [a-zA-Z_:][a-zA-Z0-9_:]* for metric names, [a-zA-Z_][a-zA-Z0-9_]* for labels.
bool validMetricName(std::string_view name);
bool validLabelName(std::string_view name);

// Builds one exposition. Families are written in the order they are begun;
// each family's samples must follow its begin() (the format wants a
// family's samples together). Invariant violations (a bad name, a family
// begun twice, a counter without _total, a sample outside its family)
// abort: the set of families is fixed in code, not input.
class Exposition {
 public:
  void begin(std::string_view name, MetricType type, std::string_view help);
  // A sample of the current counter or gauge family.
  void sample(const Labels& labels, double value);
  // Integers are printed exactly (a double holds 53 bits).
  void sample(const Labels& labels, uint64_t value);
  // The _bucket, _sum and _count series of the current histogram family.
  void histogram(const Labels& labels, const Histogram& h);

  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void series(std::string_view suffix, const Labels& labels,
              const std::pair<std::string_view, std::string>* extra, std::string_view value);

  std::string out_;
  std::string current_;
  MetricType type_ = MetricType::kGauge;
  std::vector<std::string> begun_;
};

}  // namespace lb4
