// The file sink over a DuckDB database its caller opened (the engine opens
// one ahead, while it plans the run: exec/open_sink.h). OpenFileSink
// (nightshift/sink.h) opens its own.
#pragma once

#include <memory>

#include "io/duck.h"
#include "nightshift/sink.h"

namespace nightshift::io {

// As OpenFileSink, writing through `db` (an in-memory database nothing else
// uses). REQUIRES: db != nullptr.
Result<std::unique_ptr<Sink>> OpenFileSinkOn(const SinkLayout& layout,
                                             std::shared_ptr<DuckDatabase> db);

}  // namespace nightshift::io
