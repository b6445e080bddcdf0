// libFuzzer target for everything tdbg reads from untrusted trial files: TFRecord framing,
// protobuf events, index JSON, collections JSON, and a whole trial (index + event file) read
// through tdbg::trial. The first input byte picks the target; the rest is the file.
// Contract under test: any input gives a value or a tdbg::error — never a crash, a hang, an
// out-of-bounds read (ASan) or undefined behaviour (UBSan).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tdbg/io/io.hpp"
#include "tdbg/storage/memory.hpp"
#include "tdbg/trial/trial.hpp"

namespace {

void read_event_stream(std::span<const std::byte> bytes) {
  std::uint64_t offset = 0;
  while (offset < bytes.size()) {
    const auto rec = tdbg::io::read_record(bytes.subspan(offset), "fuzz.tfevents", offset);
    if (!rec) return;
    (void)tdbg::io::decode_tensor_event(rec->payload, "fuzz.tfevents");
    offset += rec->size;
  }
}

void read_trial(std::span<const std::byte> bytes) {
  // The input is split at the first NUL: an index file, then the event file it points to.
  std::size_t split = 0;
  while (split < bytes.size() && bytes[split] != std::byte{0}) ++split;
  const std::string index(reinterpret_cast<const char*>(bytes.data()), split);
  const auto rest = split < bytes.size() ? bytes.subspan(split + 1) : std::span<const std::byte>{};
  auto backend = std::make_shared<tdbg::storage::memory_backend>();
  backend->assign("index/000000000/000000000000_worker_0.json",
                  std::vector<std::byte>(reinterpret_cast<const std::byte*>(index.data()),
                                         reinterpret_cast<const std::byte*>(index.data()) + index.size()));
  backend->assign("events/000000000000/000000000000_worker_0.tfevents", {rest.begin(), rest.end()});
  tdbg::trial::trial_options opt;
  opt.skip_corrupt_index_files = true;
  tdbg::trial::trial t(backend, opt);
  for (const auto& name : t.tensor_names()) {
    const auto tensor = t.tensor(name);
    for (const auto& s : tensor.stored_steps()) {
      try {
        if (s.has_value) (void)tensor.value(s.mode_step, s.mode, s.worker);
        for (const auto& [r, v] : tensor.reduction_values(s.mode_step, s.mode, s.worker)) (void)r, (void)v;
      } catch (const tdbg::error&) {
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto bytes = std::span<const std::byte>(reinterpret_cast<const std::byte*>(data) + 1, size - 1);
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    switch (data[0] % 4) {
      case 0: read_event_stream(bytes); break;
      case 1: (void)tdbg::io::parse_index_file(text, "fuzz.json"); break;
      case 2: (void)tdbg::io::parse_collections_file(text, "fuzz_collections.json"); break;
      case 3: read_trial(bytes); break;
    }
  } catch (const tdbg::error&) {
    // a clear error is the expected outcome for bad input
  }
  return 0;
}
