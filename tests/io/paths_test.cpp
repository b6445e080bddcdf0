// Tests of tdbg/io/paths.hpp: file keys, file-name parsing, reduction tensor names (spec §1.1, §8).
#include <catch2/catch.hpp>

#include "tdbg/io/paths.hpp"

namespace tio = tdbg::io;
using tdbg::reduction;
using tdbg::reduction_op;

TEST_CASE("file keys follow smdebug's templates", "[io][paths]") {
  CHECK(tio::step_string(0) == "000000000000");
  CHECK(tio::step_string(45) == "000000000045");
  CHECK(tio::step_string(1234567890123LL) == "1234567890123");
  CHECK(tio::step_string(-5) == "-00000000005");  // Python: format(-5, "012")
  CHECK(tio::event_file_key(45, "worker_0") == "events/000000000045/000000000045_worker_0.tfevents");
  CHECK(tio::index_file_key(45, "worker_0") == "index/000000000/000000000045_worker_0.json");
  CHECK(tio::index_file_key(12345, "worker_1") == "index/000000012/000000012345_worker_1.json");
  CHECK(tio::index_file_key(999, "w") == "index/000000000/000000000999_w.json");
  CHECK(tio::index_file_key(1000, "w") == "index/000000001/000000001000_w.json");
  CHECK(tio::index_file_key(-1, "w") == "index/-00000001/-00000000001_w.json");  // -1 // 1000 == -1
  CHECK(tio::collections_file_key("worker_3") == "collections/000000000/worker_3_collections.json");
  const std::string device = "/job:worker/replica:0/task:0/device:GPU:0";
  CHECK(tio::serialize_worker(device) == "_job-worker_replica-0_task-0_device-GPU-0");
  CHECK(tio::deserialize_worker(tio::serialize_worker(device)) == device);
  CHECK(tio::event_file_key(10, device) ==
        "events/000000000010/000000000010__job-worker_replica-0_task-0_device-GPU-0.tfevents");
  CHECK(tio::end_marker_key == "training_job_end.ts");
}

TEST_CASE("step file names parse back", "[io][paths]") {
  using sfn = tio::step_file_name;
  CHECK(tio::parse_step_file_name("index/000000000/000000000005_worker_0.json") == sfn{5, "worker_0"});
  CHECK(tio::parse_step_file_name("events/000000000045/000000000045_worker_0.tfevents") == sfn{45, "worker_0"});
  CHECK(tio::parse_step_file_name("s3prefix/run__1/index/000000000/000000000005_worker_0.csv") == sfn{5, "worker_0"});
  CHECK(tio::parse_step_file_name("events/000000000010/000000000010__job-worker_replica-0_task-0_device-GPU-0.tfevents") ==
        sfn{10, "/job:worker/replica:0/task:0/device:GPU:0"});
  CHECK(tio::parse_step_file_name("events/1/1_w.x.tfevents") == sfn{1, "w.x"});
  CHECK(tio::parse_step_file_name("events/1/1_a_b-c.json") == sfn{1, "a_b-c"});
  for (const char* bad : {"index/000000000/000000000005_worker_0.json.tmp", "000000000005_worker_0.json",
                          "/000000000005_worker_0.json", "index/x/_worker_0.json", "index/x/5_.json",
                          "index/x/5worker.json", "index/x/5a_w.json", "index/x/5_w.txt", "index/x/5_w",
                          "index/x/99999999999999999999_w.json", "training_job_end.ts", "claim.smd", ""}) {
    CAPTURE(bad);
    CHECK_FALSE(tio::parse_step_file_name(bad));
  }
}

TEST_CASE("collections file names parse back", "[io][paths]") {
  CHECK(tio::parse_collections_file_name("collections/000000000/worker_0_collections.json") == "worker_0");
  CHECK(tio::parse_collections_file_name("prefix/collections/000000000/worker_12_collections.json") == "worker_12");
  CHECK(tio::parse_collections_file_name("collections/000000000/_job-worker_replica-0_collections.json") ==
        "/job:worker/replica:0");
  for (const char* bad : {"collections/worker_0_collections.json", "collections/000000000/_collections.json",
                          "collections/000000000/worker_0_collections.json.tmp", "mycollections/0/w_collections.json",
                          "index/000000000/w_collections.json", "collections/000000000/worker_0.json"}) {
    CAPTURE(bad);
    CHECK_FALSE(tio::parse_collections_file_name(bad));
  }
}

TEST_CASE("reduction tensor names", "[io][paths]") {
  CHECK(tio::reduction_tensor_name("MLP_fc1.weight", reduction{reduction_op::mean, false}) ==
        "smdebug/reductions/mean/MLP_fc1.weight");
  CHECK(tio::reduction_tensor_name("gradient/MLP_fc1.weight", reduction{reduction_op::mean, true}) ==
        "smdebug/reductions/abs_mean/gradient/MLP_fc1.weight");
  CHECK(tio::reduction_tensor_name("dense/kernel:0", reduction{reduction_op::l2, false}) ==
        "smdebug/reductions/l2/dense/kernel:0");  // tdbg keeps the ":0" (spec §13)
  for (auto op : tdbg::all_reduction_ops)
    for (bool abs : {false, true}) {
      const reduction r{op, abs};
      const auto p = tio::parse_reduction_tensor_name(tio::reduction_tensor_name("a/b:0", r));
      REQUIRE(p);
      CHECK(p->tensor == "a/b:0");
      CHECK(p->red == r);
    }
  const auto norm = tio::parse_reduction_tensor_name("smdebug/reductions/abs_l1_norm/w");
  REQUIRE(norm);
  CHECK(norm->red == reduction{reduction_op::l1, true});
  for (const char* bad : {"MLP_fc1.weight", "smdebug/reductions/mean", "smdebug/reductions/mean/",
                          "smdebug/reductions/median/w", "smdebug/reductions/abs_/w", "smdebug/reduction/mean/w"}) {
    CAPTURE(bad);
    CHECK_FALSE(tio::parse_reduction_tensor_name(bad));
  }
}
