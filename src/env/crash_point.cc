#include "env/crash_point.h"

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>

namespace nightshift {
namespace {

struct CrashSpec {
  std::string name;
  long remaining = 0;
};

CrashSpec* ParseSpec(const char* variable) {
  const char* env = std::getenv(variable);
  if (env == nullptr) return nullptr;
  std::string s = env;
  auto colon = s.find(':');
  auto* c = new CrashSpec();
  c->name = s.substr(0, colon);
  c->remaining = colon == std::string::npos ? 1 : std::atol(s.c_str() + colon + 1);
  return c;
}

CrashSpec* Spec() {
  static CrashSpec* spec = ParseSpec("NIGHTSHIFT_CRASH_AT");
  return spec;
}

CrashSpec* StopSpec() {
  static CrashSpec* spec = ParseSpec("NIGHTSHIFT_STOP_AT");
  return spec;
}

CrashSpec* ThrowSpec() {
  static CrashSpec* spec = ParseSpec("NIGHTSHIFT_THROW_AT");
  return spec;
}

// True on the N-th call for `name` of the point `spec` describes.
bool Due(CrashSpec* spec, const char* name) {
  if (spec == nullptr || spec->name != name) return false;
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  return --spec->remaining == 0;
}

}  // namespace

void MaybeCrash(const char* name) {
  if (Due(Spec(), name)) {
    ::kill(::getpid(), SIGKILL);
    ::_exit(137);
  }
}

void MaybeStop(const char* name) {
  // raise() signals this thread: it stops before its next instruction. A
  // process-wide kill() would let it run on until another thread took the
  // stop, past the step under test.
  if (Due(StopSpec(), name)) std::raise(SIGSTOP);
}

void MaybeThrow(const char* name) {
  if (Due(ThrowSpec(), name)) {
    throw std::runtime_error(std::string("injected exception at throw point '") + name + "'");
  }
}

}  // namespace nightshift
