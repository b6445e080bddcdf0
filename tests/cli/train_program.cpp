// A small training program for the CLI tests: it writes a trial with tdbg::hook the way a real
// training loop does, while `tdbg watch` may follow it from another process.
//
//   tdbg_train_program OUT_DIR [--steps N] [--vanish-at S] [--loss-flat-at S] [--sleep-ms MS]
//                      [--stop-poll-ms MS] [--no-end-marker] [--rules FILE]...
//
// Each step (TRAIN mode, every step saved) saves two gradients, "gradient/fc1.weight" and
// "gradient/fc2.weight" (mean |g| = 1e-3 before step --vanish-at, 1e-9 from it on: they vanish),
// and "loss" (1/(s+1) before step --loss-flat-at, then constant). The loop ends after --steps
// steps or as soon as hook.should_stop() is true — a stop request written into the trial by
// `tdbg watch --on-fire stop`, looked for every --stop-poll-ms. With --rules, the rule files are
// loaded (lang::load_rules) and attached to the hook (rules::attach): their findings are printed
// as JSON lines. The last line is {"steps": <steps run>, "stopped": <bool>, "stopped_at": <step>}.
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "tdbg/collect/config.hpp"
#include "tdbg/hook/hook.hpp"
#include "tdbg/lang/lang.hpp"
#include "tdbg/rules/attach.hpp"

namespace {

constexpr auto gradients = tdbg::collect::collection_config{"gradients"}.include("^gradient/").every(1);
constexpr auto losses = tdbg::collect::collection_config{"losses"}.include("^loss$").every(1);

struct options {
  std::string out;
  int steps = 40;
  int vanish_at = 1 << 30;
  int loss_flat_at = 1 << 30;
  int sleep_ms = 0;
  int stop_poll_ms = 0;
  bool end_marker = true;
  std::vector<std::string> rules;
};

int usage(const char* why) {
  std::fprintf(stderr, "tdbg_train_program: %s\n", why);
  return 2;
}

nlohmann::json finding_json(const tdbg::rules::finding& f) {
  nlohmann::json thresholds = nlohmann::json::array();
  for (const double t : f.thresholds) thresholds.push_back(std::isnan(t) ? nlohmann::json() : nlohmann::json(t));
  return {{"rule", f.rule},         {"step", f.step},       {"mode", std::string(tdbg::mode_name(f.mode))},
          {"mode_step", f.mode_step}, {"worker", f.worker},   {"tensors", f.tensors},
          {"values", f.values},     {"thresholds", thresholds}, {"message", f.message}};
}

}  // namespace

int main(int argc, char** argv) try {
  options o;
  if (argc < 2) return usage("usage: tdbg_train_program OUT_DIR [options]");
  o.out = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--steps") o.steps = std::stoi(next());
    else if (a == "--vanish-at") o.vanish_at = std::stoi(next());
    else if (a == "--loss-flat-at") o.loss_flat_at = std::stoi(next());
    else if (a == "--sleep-ms") o.sleep_ms = std::stoi(next());
    else if (a == "--stop-poll-ms") o.stop_poll_ms = std::stoi(next());
    else if (a == "--no-end-marker") o.end_marker = false;
    else if (a == "--rules") o.rules.push_back(next());
    else return usage(("unknown option " + a).c_str());
  }

  tdbg::hook_options ho;
  ho.write_end_marker = o.end_marker;
  ho.stop_poll_interval = std::chrono::milliseconds(o.stop_poll_ms);
  tdbg::hook h(o.out, tdbg::collect::collections<gradients, losses>{}, ho);

  std::vector<tdbg::rules::any_rule> rules;
  for (const auto& f : o.rules)
    for (auto& r : tdbg::lang::load_rules(f)) rules.push_back(std::move(r));
  std::optional<tdbg::rules::session> live;
  if (!rules.empty()) live.emplace(tdbg::rules::attach(h, rules));

  h.set_mode(tdbg::mode::train);
  int done = 0;
  bool stopped = false;
  std::vector<float> g1(64), g2(32);
  for (int s = 0; s < o.steps; ++s) {
    const float scale = s < o.vanish_at ? 1e-3f : 1e-9f;
    for (std::size_t i = 0; i < g1.size(); ++i) g1[i] = (i % 2 == 0 ? 1.0f : -1.0f) * scale;
    for (std::size_t i = 0; i < g2.size(); ++i) g2[i] = (i % 3 == 0 ? -2.0f : 0.5f) * scale;
    const float loss = 1.0f / static_cast<float>(std::min(s, o.loss_flat_at) + 1);
    h.begin_step();
    h.save("gradient/fc1.weight", std::span<const float>(g1));
    h.save("gradient/fc2.weight", std::span<const float>(g2));
    h.save("loss", std::vector<float>{loss});
    h.end_step();
    ++done;
    if (h.should_stop()) {
      stopped = true;
      break;
    }
    if (o.sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(o.sleep_ms));
  }
  h.close();
  if (live)
    for (const auto& f : live->findings()) std::cout << finding_json(f).dump() << '\n';
  std::cout << nlohmann::json{{"steps", done}, {"stopped", stopped}, {"stopped_at", h.step()}}.dump() << '\n';
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "tdbg_train_program: error: %s\n", e.what());
  return 3;
}
