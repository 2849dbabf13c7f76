// Status and Result<T>: the error channel for everything that comes from outside the program
// (files, flags, environment). The message is one line and names the file or flag at fault.
#pragma once

#include <string>
#include <utility>
#include <variant>

#include "t81/base/check.h"

namespace t81 {

class Status {
 public:
  Status() = default;  // OK
  static Status Error(std::string msg) { return Status(std::move(msg)); }
  bool ok() const { return !failed_; }
  const std::string& message() const { return msg_; }

 private:
  explicit Status(std::string msg) : failed_(true), msg_(std::move(msg)) {}
  bool failed_ = false;
  std::string msg_;
};

inline Status OkStatus() { return Status(); }
inline Status Error(std::string msg) { return Status::Error(std::move(msg)); }

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    T81_CHECK(!std::get<Status>(v_).ok(), "Result built from an OK status");
  }
  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { T81_CHECK(ok(), "value() of a failed Result"); return std::get<T>(v_); }
  const T& value() const& { T81_CHECK(ok(), "value() of a failed Result"); return std::get<T>(v_); }
  T&& value() && { T81_CHECK(ok(), "value() of a failed Result"); return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace t81

#define T81_CONCAT_INNER(a, b) a##b
#define T81_CONCAT(a, b) T81_CONCAT_INNER(a, b)

#define T81_RETURN_IF_ERROR(expr)          \
  do {                                     \
    ::t81::Status t81_st_ = (expr);        \
    if (!t81_st_.ok()) return t81_st_;     \
  } while (0)

#define T81_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()

#define T81_ASSIGN_OR_RETURN(lhs, expr) \
  T81_ASSIGN_OR_RETURN_IMPL(T81_CONCAT(t81_res_, __LINE__), lhs, expr)
