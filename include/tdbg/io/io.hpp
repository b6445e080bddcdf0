// tdbg/io/io.hpp — the whole io layer: CRC-32C, TFRecord framing, the tensor Event protobuf,
// index and collections JSON files, and trial file names.
// Layer: io (depends on core only).
#pragma once

#include "tdbg/io/collections_file.hpp"
#include "tdbg/io/crc32c.hpp"
#include "tdbg/io/event.hpp"
#include "tdbg/io/index_file.hpp"
#include "tdbg/io/paths.hpp"
#include "tdbg/io/py_json.hpp"
#include "tdbg/io/tfrecord.hpp"
