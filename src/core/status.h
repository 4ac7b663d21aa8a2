// Status and Result<T>: how every fallible operation in recsys reports failure.
//
// Expected failures (bad input, missing files, I/O errors) are returned, never thrown. The
// message names the input ("bronze/topics/x.json line 812: price is negative"); callers add
// context with Status::WithContext as the error travels up.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace recsys {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // the caller or the user gave something unusable
  kNotFound,
  kAlreadyExists,
  kCorruption,  // stored data failed a check (CRC, magic, framing)
  kIOError,
  kOutOfRange,
  kUnavailable,  // a server or resource is not there now; retrying may help
  kInternal,     // a broken invariant inside recsys
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return {StatusCode::kInvalidArgument, std::move(msg)};
  }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) {
    return {StatusCode::kAlreadyExists, std::move(msg)};
  }
  static Status Corruption(std::string msg) { return {StatusCode::kCorruption, std::move(msg)}; }
  static Status IOError(std::string msg) { return {StatusCode::kIOError, std::move(msg)}; }
  static Status OutOfRange(std::string msg) { return {StatusCode::kOutOfRange, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
  static Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }
  // An I/O error from errno, naming the operation and the path.
  static Status FromErrno(std::string_view op, std::string_view path, int err);

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "IOError: open /x: No such file or directory"; "OK" when ok.
  std::string ToString() const;
  // Prefixes the message with context: "context: message". A no-op on OK.
  Status WithContext(std::string_view context) const;

 private:
  Status(StatusCode code, std::string msg) : code_(code), message_(std::move(msg)) {}
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or the Status saying why there is none. REQUIRES: the Status is not OK.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok());
  }
  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace recsys

#define RECSYS_CONCAT_INNER_(a, b) a##b
#define RECSYS_CONCAT_(a, b) RECSYS_CONCAT_INNER_(a, b)

#define RECSYS_RETURN_IF_ERROR(expr) \
  do {                               \
    ::recsys::Status _st = (expr);   \
    if (!_st.ok()) return _st;       \
  } while (0)

#define RECSYS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()

#define RECSYS_ASSIGN_OR_RETURN(lhs, expr) \
  RECSYS_ASSIGN_OR_RETURN_IMPL_(RECSYS_CONCAT_(_res_, __LINE__), lhs, expr)
