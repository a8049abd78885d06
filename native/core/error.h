// Errors raised by the core (no napi.h here): a stable code plus a message that says what was
// expected. The binding layer turns them into the JavaScript SparsennError of the same code.
#pragma once
#include <stdexcept>
#include <string>

namespace sparsenn {

class CoreError : public std::runtime_error {
 public:
  CoreError(const char* code, const std::string& message) : std::runtime_error(message), code_(code) {}
  const char* code() const { return code_; }

 private:
  const char* code_;
};

[[noreturn]] inline void fail(const char* code, const std::string& message) { throw CoreError(code, message); }

}  // namespace sparsenn
