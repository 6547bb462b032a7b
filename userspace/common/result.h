// Result<T>: a value or an error message, shaped like C++23 std::expected
// (not available with -std=c++20 on g++ 12). Messages read
// "<verb> <object>: <detail>", e.g. "update map lb4_vips: No space left".
#pragma once

#include <spdlog/fmt/fmt.h>

#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace lb4 {

struct Error {
  std::string message;
};

template <typename... Args>
Error makeError(fmt::format_string<Args...> format, Args&&... args) {
  return Error{fmt::format(format, std::forward<Args>(args)...)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    check();
    return std::get<0>(v_);
  }
  const T& value() const& {
    check();
    return std::get<0>(v_);
  }
  T&& value() && {
    check();
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const std::string& error() const { return std::get<1>(v_).message; }
  Error takeError() && { return std::get<1>(std::move(v_)); }

 private:
  void check() const {
    if (!ok()) {
      std::abort();  // Reading the value of a failed Result is a bug.
    }
  }
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const std::string& error() const { return error_.message; }
  Error takeError() && { return std::move(error_); }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace lb4
