// Status: the result of an operation that can fail, carried across module
// boundaries instead of exceptions (the LevelDB convention).
//
// A Status is a small value type: OK carries nothing, an error carries a code
// and a human-readable message meant for the operator ("line 12: label longer
// than 63 octets"). Any thread may create, copy and read Status objects.
#ifndef SARING_STATUS_H_
#define SARING_STATUS_H_

#include <string>
#include <string_view>
#include <utility>

namespace saring {

class Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,    // bad input from a user, a feed or a client
    kNotFound,           // the thing asked for does not exist
    kAlreadyExists,      // create of something that is there already
    kFailedPrecondition, // refused by a safety rule (e.g. a feed shrinking too much)
    kCorruption,         // stored data is not what it should be
    kIOError,            // the file system or the store failed
    kUnavailable,        // a peer (server, upstream) could not be reached
    kInternal,           // a bug: an invariant did not hold
  };

  Status() = default;  // OK

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string msg) { return {Code::kInvalidArgument, std::move(msg)}; }
  static Status NotFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) { return {Code::kAlreadyExists, std::move(msg)}; }
  static Status FailedPrecondition(std::string msg) {
    return {Code::kFailedPrecondition, std::move(msg)};
  }
  static Status Corruption(std::string msg) { return {Code::kCorruption, std::move(msg)}; }
  static Status IOError(std::string msg) { return {Code::kIOError, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {Code::kUnavailable, std::move(msg)}; }
  static Status Internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  bool IsInvalidArgument() const { return code_ == Code::kInvalidArgument; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsFailedPrecondition() const { return code_ == Code::kFailedPrecondition; }

  // "OK", or "<code name>: <message>".
  std::string ToString() const;

  // The same code with "context: " put in front of the message.
  Status WithContext(std::string_view context) const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}

  Code code_ = Code::kOk;
  std::string message_;
};

std::string_view CodeName(Status::Code code);

}  // namespace saring

// Returns early from the enclosing function when `expr` yields an error.
#define SARING_RETURN_IF_ERROR(expr)       \
  do {                                     \
    ::saring::Status _saring_st = (expr);  \
    if (!_saring_st.ok()) return _saring_st; \
  } while (0)

#endif  // SARING_STATUS_H_
