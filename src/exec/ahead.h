// Ahead: start-up work (a model runtime, a DuckDB database: tens of
// milliseconds each) run on a thread of its own while the caller does
// something else. Where no thread can be started it runs when its result is
// asked for. The future joins the thread when it is read or destroyed, so no
// return path leaves the thread running.
#pragma once

#include <future>
#include <system_error>
#include <type_traits>
#include <utility>

namespace nightshift::exec {

template <typename F>
std::future<std::invoke_result_t<F>> Ahead(F fn) {
  try {
    return std::async(std::launch::async, fn);
  } catch (const std::system_error&) {  // no thread to be had
    return std::async(std::launch::deferred, std::move(fn));
  }
}

}  // namespace nightshift::exec
