// benchmarks/hook_and_trial.cpp — what saving and reading cost, against plain baselines measured
// in the same run on the same machine:
//
//  1. hook.save on the training thread vs one memcpy of the same bytes (the hook's promise: the
//     training loop pays one copy and never waits on disk);
//  2. a save of a tensor no collection wants vs one unordered_map lookup (the promise: a hash
//     lookup, the regex ran once);
//  3. the whole write (save + background writer + close) to a local directory vs writing the
//     same bytes with fwrite;
//  4. reading every value back through a trial vs fread of the event files.
//
// Usage: tdbg_bench_hook_and_trial [DIR]   (DIR: where to write, default a temp dir)
// Prints a table; benchmarks/README.md records the figures.
#include <tdbg/collect/defaults.hpp>
#include <tdbg/hook/hook.hpp>
#include <tdbg/storage/memory.hpp>
#include <tdbg/trial/trial.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

template <class F>
double best_of(int reps, F&& f) {
  double best = 1e300;
  for (int i = 0; i < reps; ++i) best = std::min(best, f());
  return best;
}

constexpr auto all_raw = tdbg::collect::collection_config{"weights"}.include("^layer").every(1);

}  // namespace

int main(int argc, char** argv) {
  const fs::path dir = argc > 1 ? fs::path(argv[1]) : fs::temp_directory_path() / "tdbg_bench";
  fs::remove_all(dir);
  const std::size_t n_tensors = 16, elems = 1 << 20;  // 16 tensors of 4 MiB = 64 MiB per step
  const int steps = 8;
  std::vector<std::vector<float>> data(n_tensors, std::vector<float>(elems));
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  for (auto& v : data)
    for (auto& x : v) x = nd(rng);
  std::vector<std::string> names;
  for (std::size_t i = 0; i < n_tensors; ++i) names.push_back(fmt::format("layer{}.weight", i));
  const std::array<std::int64_t, 2> shape{1024, 1024};
  const double bytes_per_step = double(n_tensors * elems * sizeof(float));
  const double total_bytes = bytes_per_step * steps;

  fmt::print("tdbg benchmark: hook and trial ({} tensors x {} MiB x {} steps = {:.0f} MiB)\n\n", n_tensors,
             elems * sizeof(float) >> 20, steps, total_bytes / (1 << 20));

  // 1. Training-thread cost of save vs memcpy.
  std::vector<std::vector<float>> sink(n_tensors, std::vector<float>(elems));
  const double t_memcpy = best_of(3, [&] {
    const auto t0 = clock_type::now();
    for (int s = 0; s < steps; ++s)
      for (std::size_t i = 0; i < n_tensors; ++i) {
        std::vector<float> copy(elems);  // a fresh buffer per tensor, as the hook allocates one
        std::memcpy(copy.data(), data[i].data(), elems * sizeof(float));
        sink[i].swap(copy);
      }
    return seconds_since(t0);
  });
  double t_save = 0, t_save_total = 0;
  t_save = best_of(3, [&] {
    auto backend = std::make_shared<tdbg::storage::memory_backend>();
    tdbg::hook_options opt;
    opt.queue_capacity_bytes = std::uint64_t{4} << 30;  // never blocks: measures the copy, not the disk
    tdbg::hook hook(backend, tdbg::collect::collections<all_raw>{}, opt);
    double in_loop = 0;
    const auto t0 = clock_type::now();
    for (int s = 0; s < steps; ++s) {
      hook.begin_step();
      const auto t1 = clock_type::now();
      for (std::size_t i = 0; i < n_tensors; ++i)
        hook.save(names[i], std::span<const float>(data[i]), shape);
      in_loop += seconds_since(t1);
      hook.end_step();
    }
    hook.close();
    t_save_total = seconds_since(t0);
    return in_loop;
  });
  fmt::print("{:<58} {:>9} {:>9}\n", "measure", "GB/s", "ratio");
  fmt::print("{:<58} {:>9.2f}\n", "baseline: memcpy into a fresh buffer", total_bytes / t_memcpy / 1e9);
  fmt::print("{:<58} {:>9.2f} {:>8.2f}x\n", "hook.save, training thread (memory backend)", total_bytes / t_save / 1e9,
             t_save / t_memcpy);
  fmt::print("{:<58} {:>9.2f}\n", "hook save+write+close, end to end (memory backend)", total_bytes / t_save_total / 1e9);

  // 2. A tensor no collection wants.
  {
    auto backend = std::make_shared<tdbg::storage::memory_backend>();
    tdbg::hook hook(backend, tdbg::collect::collections<all_raw>{});
    hook.begin_step();
    const float one = 1.f;
    std::vector<std::string> others;
    for (int i = 0; i < 64; ++i) others.push_back(fmt::format("activation{}_output_0", i));
    for (const auto& o : others) hook.save(o, std::span<const float>(&one, 1), {});  // warm the cache
    const int calls = 2'000'000;
    const double t_unwanted = best_of(3, [&] {
      const auto t0 = clock_type::now();
      for (int c = 0; c < calls; ++c) hook.save(others[static_cast<std::size_t>(c) & 63], std::span<const float>(&one, 1), {});
      return seconds_since(t0);
    });
    std::unordered_map<std::string, bool> map;
    for (const auto& o : others) map[o] = false;
    std::size_t found = 0;
    const double t_lookup = best_of(3, [&] {
      const auto t0 = clock_type::now();
      for (int c = 0; c < calls; ++c) found += map.find(others[static_cast<std::size_t>(c) & 63])->second ? 1 : 0;
      return seconds_since(t0);
    });
    hook.close();
    fmt::print("\n{:<58} {:>9} {:>9}\n", "measure", "ns/call", "ratio");
    fmt::print("{:<58} {:>9.1f}\n", "baseline: std::unordered_map<std::string,bool>::find", t_lookup / calls * 1e9);
    fmt::print("{:<58} {:>9.1f} {:>8.2f}x   (regex runs: {})\n", "hook.save of a tensor no collection wants",
               t_unwanted / calls * 1e9, t_unwanted / t_lookup, hook.regex_evaluations());
    if (found) std::puts("");
  }

  // 3. Writing a trial to a local directory vs fwrite of the same bytes.
  const fs::path raw_dir = dir / "raw";
  fs::create_directories(raw_dir);
  const double t_fwrite = best_of(2, [&] {
    const auto t0 = clock_type::now();
    for (int s = 0; s < steps; ++s) {
      std::FILE* f = std::fopen((raw_dir / fmt::format("step{}.bin", s)).c_str(), "wb");
      for (std::size_t i = 0; i < n_tensors; ++i) std::fwrite(data[i].data(), sizeof(float), elems, f);
      std::fclose(f);
    }
    return seconds_since(t0);
  });
  const fs::path trial_dir = dir / "trial";
  const double t_hook_local = best_of(2, [&] {
    fs::remove_all(trial_dir);
    const auto t0 = clock_type::now();
    tdbg::hook hook(trial_dir, tdbg::collect::collections<all_raw>{});
    for (int s = 0; s < steps; ++s) {
      hook.begin_step();
      for (std::size_t i = 0; i < n_tensors; ++i) hook.save(names[i], std::span<const float>(data[i]), shape);
      hook.end_step();
    }
    hook.close();
    return seconds_since(t0);
  });
  fmt::print("\n{:<58} {:>9} {:>9}\n", "measure", "GB/s", "ratio");
  fmt::print("{:<58} {:>9.2f}\n", "baseline: fwrite of the same bytes", total_bytes / t_fwrite / 1e9);
  fmt::print("{:<58} {:>9.2f} {:>8.2f}x\n", "hook to a local trial directory, save to close", total_bytes / t_hook_local / 1e9,
             t_hook_local / t_fwrite);

  // 4. Reading every value back vs fread of the event files.
  std::vector<fs::path> event_files;
  for (const auto& e : fs::recursive_directory_iterator(trial_dir / "events"))
    if (e.is_regular_file()) event_files.push_back(e.path());
  std::vector<char> buf;
  const double t_fread = best_of(3, [&] {
    const auto t0 = clock_type::now();
    for (const auto& p : event_files) {
      buf.resize(fs::file_size(p));
      std::FILE* f = std::fopen(p.c_str(), "rb");
      if (std::fread(buf.data(), 1, buf.size(), f) != buf.size()) std::abort();
      std::fclose(f);
    }
    return seconds_since(t0);
  });
  double checksum = 0;
  const double t_trial = best_of(3, [&] {
    const auto t0 = clock_type::now();
    tdbg::trial::trial t(trial_dir);
    for (const auto& name : t.tensor_names())
      for (auto s : t.tensor(name).steps()) checksum += t.tensor(name).value(s).as_double(0);
    return seconds_since(t0);
  });
  fmt::print("{:<58} {:>9.2f}\n", "baseline: fread of the event files", total_bytes / t_fread / 1e9);
  fmt::print("{:<58} {:>9.2f} {:>8.2f}x\n", "trial: open + every value read and decoded", total_bytes / t_trial / 1e9,
             t_trial / t_fread);
  fmt::print("\n(checksum {:.3f})\n", checksum);
  fs::remove_all(dir);
  return 0;
}
