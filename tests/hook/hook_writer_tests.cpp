// Tests of the hook's background writer: bounded queue (block / drop-and-count), draining at
// close, and errors of the writer thread surfacing on the training thread.
#include "hook_test_util.hpp"

#include "tdbg/collect/defaults.hpp"

using namespace tdbg;
using namespace hook_test;
namespace cl = tdbg::collect;

namespace {
constexpr auto every_step = cl::collection_config{"everything"}.include(".*").every(1);
const std::vector<float> kilobyte(256, 1.0f);  // 1 KiB of data per tensor
}  // namespace

TEST_CASE("writer queue, block policy: a slow backend slows save() but loses nothing") {
  auto b = std::make_shared<test_backend>();
  b->write_delay_ms = 2;
  hook h(b, cl::collections<every_step>{}, hook_options{.queue_capacity_bytes = 3000});
  h.begin_step();
  for (int i = 0; i < 30; ++i) {
    h.save("t" + std::to_string(i), kilobyte);
    CHECK(h.queued_bytes() <= 3000);
  }
  h.close();
  CHECK(h.dropped_count() == 0);
  const auto [idx, recs] = read_step(b->mem, 0);
  CHECK(recs.size() == 30);
}

TEST_CASE("writer queue, drop policy: drops and counts instead of waiting") {
  auto b = std::make_shared<test_backend>();
  b->write_delay_ms = 20;
  hook h(b, cl::collections<every_step>{},
         hook_options{.queue_capacity_bytes = 3000, .when_full = queue_full_policy::drop});
  h.begin_step();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 30; ++i) h.save("t" + std::to_string(i), kilobyte);
  const auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took < std::chrono::milliseconds(30 * 20));  // did not wait for the disk
  h.close();
  const auto dropped = h.dropped_count();
  CHECK(dropped > 0);
  CHECK(dropped < 30);
  const auto [idx, recs] = read_step(b->mem, 0);
  CHECK(recs.size() == 30 - dropped);
}

TEST_CASE("close drains the queue; destructor too") {
  auto b = std::make_shared<test_backend>();
  b->write_delay_ms = 1;
  {
    hook h(b, cl::collections<every_step>{});
    for (int s = 0; s < 5; ++s) {
      h.begin_step();
      for (int i = 0; i < 10; ++i) h.save("t" + std::to_string(i), kilobyte);
      h.end_step();
    }
    // no close: the destructor drains
  }
  for (step_t s = 0; s < 5; ++s) CHECK(read_step(b->mem, s).second.size() == 10);
  CHECK(b->mem.exists("training_job_end.ts"));
}

TEST_CASE("a writer error surfaces on the training thread as io_error naming the file") {
  auto b = std::make_shared<test_backend>();
  b->fail_events = true;
  hook h(b, cl::collections<every_step>{});
  h.begin_step();
  h.save("w", kilobyte);
  // surfaces at end_step (if the writer was quick) or at flush
  CHECK_THROWS_WITH((h.end_step(), h.flush()), Catch::Contains("events/000000000000/000000000000_worker_0.tfevents") &&
                                   Catch::Contains("disk full"));
  CHECK_NOTHROW(h.flush());  // reported once
  CHECK_FALSE(b->mem.exists(io::index_file_key(0, "worker_0")));  // the failed step is not published
  b->fail_events = false;
  h.begin_step();  // the next step works again
  h.save("w", kilobyte);
  h.close();
  CHECK(read_step(b->mem, 1).second.size() == 1);
}

TEST_CASE("a writer error is rethrown from the next save/begin_step") {
  auto b = std::make_shared<test_backend>();
  b->fail_prefix = "events/000000000000/";  // only step 0 fails
  hook h(b, cl::collections<every_step>{});
  bool thrown = false;
  std::string what;
  auto attempt = [&](auto&& f) {
    try {
      f();
    } catch (const io_error& e) {
      thrown = true;
      what = e.what();
    }
  };
  h.begin_step();
  h.save("w", kilobyte);
  attempt([&] { h.end_step(); });  // may already report it if the writer was quick
  for (int i = 0; i < 2000 && !thrown; ++i) {
    attempt([&] {
      h.begin_step();
      h.save("w", kilobyte);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  CHECK(thrown);
  CHECK_THAT(what, Catch::Contains("events/000000000000/000000000000_worker_0.tfevents") &&
                       Catch::Contains("disk full"));
  CHECK_NOTHROW(h.close());
}

TEST_CASE("close rethrows an unreported error; the destructor reports it without throwing") {
  auto b = std::make_shared<test_backend>();
  b->fail_everything = true;
  {
    hook h(b, cl::collections<every_step>{});
    h.begin_step();
    h.save("w", kilobyte);
    CHECK_THROWS_AS(h.close(), io_error);
  }
  auto b2 = std::make_shared<test_backend>();
  b2->fail_everything = true;
  auto run = [&] {
    hook h(b2, cl::collections<every_step>{});
    h.begin_step();
    h.save("w", kilobyte);
  };
  CHECK_NOTHROW(run());
  CHECK(b2->creates > 0);  // it did try to write
}
