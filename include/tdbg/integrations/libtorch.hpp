// tdbg/integrations/libtorch.hpp — saving a LibTorch training loop into an smdebug trial.
// Layer: integrations (hook, core, + LibTorch). The only tdbg header that includes <torch/...>;
// link the CMake target tdbg::torch (tdbg::tdbg + ${TORCH_LIBRARIES}).
//
//   tdbg::hook h(out_dir, tdbg::collect::defaults::pytorch{}, opts);
//   tdbg::integrations::torch_hook th(h, *model, {.follow_module_mode = true});
//   for (auto& batch : loader) {
//     th.begin_step();                       // mode from model->is_training(); saves parameters
//     auto y = th.forward(model->body, x);   // a Sequential: every child's input/output captured
//     auto loss = torch::mse_loss(y, t);
//     th.save_loss(loss, "MSELoss");         // "MSELoss_output_0" (smdebug's losses regex)
//     loss.backward();
//     th.save_gradients();                   // "gradient/<Root>_<param path>"
//     opt.step();
//     th.end_step();
//     if (h.should_stop()) break;
//   }
//
// Names follow smdebug's PyTorch hook (spec §7.3), so smdebug's default collections
// (collect/defaults.hpp) select them:
//   parameters          <Root>_<param path>            Net_fc1.weight, Net_body.0.bias
//   gradients           gradient/<Root>_<param path>   gradient/Net_fc1.weight
//   module outputs      <module path>_output_<i>       body.0_output_0; the root: Net_output_0
//   module inputs       <module path>_input_<i>        fc1_input_0
//   loss                <loss name>_output_0           CrossEntropyLoss_output_0
//   loss inputs         <loss name>_input_<i>          CrossEntropyLoss_input_1 (the labels)
// <Root> is the root module's class name (namespaces and LibTorch's "Impl" suffix removed:
// `struct NetImpl` → "Net"), or torch_options::root_name. <module path> is the path of
// named_modules() ("body.0"). `i` counts the tensors saved for that module and direction in the
// step (a module run twice in a step gives _output_0 then _output_1), as smdebug does.
//
// Activations. LibTorch's C++ modules have no forward hooks, so activations are captured
// explicitly: th.forward(sequential, x) runs a Sequential child by child (recursing into nested
// Sequentials) and captures each child's input and output; inside a custom module's forward(),
// tdbg::integrations::capture("conv1", conv1(x)) captures a tensor for the torch_hook whose step
// is open on this thread (a no-op when there is none, e.g. outside training). Both only touch a
// tensor that a collection saves at this step: an unselected activation costs one hash lookup.
//
// Copies. A CPU, contiguous tensor of a supported dtype is handed to the hook as a tensor_ref
// view of its own memory: the hook's single copy is the only one. A non-contiguous, CUDA (or
// other device), sparse or bfloat16 tensor is first made a contiguous host tensor (one more
// copy). Nothing is computed for a tensor no collection saves.
//
// Dtypes: float32/64, float16 (bit for bit, DT_HALF), int8/16/32/64, uint8, bool map to the same
// tdbg dtypes. bfloat16 has no smdebug dtype: by default it is saved as float32 (exact) and the
// original dtype is recorded in the trial, in `source_dtypes/<worker>.json`
// ({"<tensor name>": "bfloat16", ...}, rewritten when a new name is converted) and in
// torch_hook::source_dtypes(); bfloat16_policy::error makes it a usage_error instead. Complex,
// quantized and other dtypes are a usage_error naming the tensor and the dtype.
//
// Gradients are read from each parameter's .grad() when save_gradients() is called (after
// backward(), before the optimizer zeroes them): with gradient accumulation over several
// backward() calls that is the accumulated gradient (smdebug's tensor hook sees each backward
// pass separately). Parameters without a gradient (frozen, unused) are skipped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "tdbg/core/dtype.hpp"
#include "tdbg/core/error.hpp"
#include "tdbg/core/mode.hpp"
#include "tdbg/core/tensor.hpp"
#include "tdbg/hook/hook.hpp"
#include "tdbg/io/paths.hpp"

namespace tdbg::integrations {

/// What happens to a bfloat16 tensor (smdebug's format has no bfloat16).
enum class bfloat16_policy {
  to_float32,  ///< saved as float32 (exact); the original dtype is recorded (see header comment)
  error,       ///< usage_error naming the tensor
};

/// Options of a torch_hook.
struct torch_options {
  /// <Root> of parameter names and of the root module's inputs/outputs; empty: the root
  /// module's class name without namespaces and without the "Impl" suffix.
  std::string root_name = {};
  /// begin_step() sets the hook's mode to TRAIN or EVAL from root.is_training(), so
  /// model->train() / model->eval() switch the mode of the steps that follow.
  bool follow_module_mode = false;
  /// begin_step() saves the root's parameters (smdebug saves them before the forward pass).
  bool save_parameters_at_begin = true;
  bfloat16_policy bfloat16 = bfloat16_policy::to_float32;
};

/// The tdbg dtype of a torch scalar type, nullopt when it has none (bfloat16, complex, ...).
[[nodiscard]] inline std::optional<tdbg::dtype> to_tdbg_dtype(c10::ScalarType s) noexcept {
  switch (s) {
    case c10::ScalarType::Half: return tdbg::dtype::float16;
    case c10::ScalarType::Float: return tdbg::dtype::float32;
    case c10::ScalarType::Double: return tdbg::dtype::float64;
    case c10::ScalarType::Char: return tdbg::dtype::int8;
    case c10::ScalarType::Short: return tdbg::dtype::int16;
    case c10::ScalarType::Int: return tdbg::dtype::int32;
    case c10::ScalarType::Long: return tdbg::dtype::int64;
    case c10::ScalarType::Byte: return tdbg::dtype::uint8;
    case c10::ScalarType::Bool: return tdbg::dtype::boolean;
    default: return std::nullopt;
  }
}

/// A torch tensor as a host, contiguous tensor the hook can read: either the tensor itself (no
/// copy) or a host copy, which this object keeps alive. ref() is valid while it lives.
class host_tensor {
 public:
  /// Makes `t` readable on the host (see the header comment). usage_error naming `name` for an
  /// undefined tensor, an unsupported dtype, or bfloat16 under bfloat16_policy::error.
  host_tensor(std::string_view name, const torch::Tensor& t, bfloat16_policy p) : source_(t.scalar_type()) {
    if (!t.defined()) throw usage_error("tensor '" + std::string(name) + "': undefined torch tensor");
    torch::NoGradGuard no_grad;  // conversions below must not record autograd history
    torch::Tensor x = t.detach();
    if (x.is_quantized())
      throw usage_error("tensor '" + std::string(name) + "': quantized torch tensors (" +
                        std::string(c10::toString(source_)) + ") are not supported; dequantize() first");
    if (x.layout() != c10::kStrided) x = x.to_dense();
    if (source_ == c10::ScalarType::BFloat16) {
      if (p == bfloat16_policy::error)
        throw usage_error("tensor '" + std::string(name) +
                          "': bfloat16 has no smdebug dtype (bfloat16_policy::error); convert it, or use "
                          "bfloat16_policy::to_float32");
      x = x.to(torch::kFloat);
    }
    const auto d = to_tdbg_dtype(x.scalar_type());
    if (!d)
      throw usage_error("tensor '" + std::string(name) + "': torch dtype " +
                        std::string(c10::toString(x.scalar_type())) + " has no smdebug dtype");
    dtype_ = *d;
    if (!x.device().is_cpu()) x = x.to(torch::kCPU);
    if (x.is_neg()) x = x.resolve_neg();  // a lazily negated view: materialise it
    if (!x.is_contiguous()) x = x.contiguous();
    copied_ = !x.is_same(t) && x.data_ptr() != t.data_ptr();
    held_ = std::move(x);
  }

  /// A view of the host data (C order).
  [[nodiscard]] tensor_ref ref() const noexcept {
    const auto sizes = held_.sizes();
    const auto n = static_cast<std::size_t>(held_.numel()) * dtype_size(dtype_);
    return tensor_ref{dtype_, std::span<const std::int64_t>(sizes.data(), sizes.size()),
                      std::span<const std::byte>(static_cast<const std::byte*>(held_.data_ptr()), n), {}};
  }
  /// The dtype written.
  [[nodiscard]] tdbg::dtype dtype() const noexcept { return dtype_; }
  /// The torch dtype of the tensor given.
  [[nodiscard]] c10::ScalarType source_dtype() const noexcept { return source_; }
  /// Whether a host copy was made (false: ref() views the caller's tensor).
  [[nodiscard]] bool copied() const noexcept { return copied_; }

 private:
  torch::Tensor held_;
  c10::ScalarType source_;
  tdbg::dtype dtype_ = tdbg::dtype::float32;
  bool copied_ = false;
};

/// Saves one torch tensor under `name` through `h` if a collection selects it at this step
/// (nothing is converted otherwise). Returns the dtype the tensor had when it was converted
/// (bfloat16 → float32), nullopt when saved as is or not saved. usage_error outside a step.
inline std::optional<c10::ScalarType> save_tensor(tdbg::hook& h, std::string_view name, const torch::Tensor& t,
                                                  bfloat16_policy p = bfloat16_policy::to_float32) {
  if (!h.in_step())
    throw usage_error("tdbg::integrations::save_tensor('" + std::string(name) +
                      "') outside a step: call begin_step() first");
  if (!h.will_save(name)) return std::nullopt;
  const host_tensor ht(name, t, p);
  h.save(name, ht.ref());
  if (!to_tdbg_dtype(ht.source_dtype())) return ht.source_dtype();
  return std::nullopt;
}

/// The class name of a module as smdebug names a root module: "NetImpl" → "Net",
/// "torch::nn::SequentialImpl" → "Sequential".
[[nodiscard]] inline std::string module_class_name(const torch::nn::Module& m) {
  std::string n = m.name();
  if (const auto lt = n.find('<'); lt != std::string::npos) n.erase(lt);  // templates: drop arguments
  if (const auto colons = n.rfind("::"); colons != std::string::npos) n.erase(0, colons + 2);
  if (n.size() > 4 && n.ends_with("Impl")) n.erase(n.size() - 4);
  return n;
}

class torch_hook;

namespace detail {
/// The torch_hook whose step is open on this thread (capture() saves through it).
inline thread_local torch_hook* active_torch_hook = nullptr;
}  // namespace detail

/// Binds a tdbg::hook to a LibTorch root module: steps, modes, parameters, gradients, losses and
/// activations under smdebug's PyTorch names (see the header comment). Neither the hook nor the
/// module is owned: both must outlive the torch_hook. Use it on the training thread.
class torch_hook {
 public:
  torch_hook(tdbg::hook& h, torch::nn::Module& root, torch_options o = {})
      : hook_(&h), root_(&root), options_(std::move(o)) {
    root_name_ = options_.root_name.empty() ? module_class_name(root) : options_.root_name;
    if (root_name_.empty()) throw usage_error("torch_hook: empty root module name");
    for (const auto& item : root.named_modules("", /*include_self=*/false))
      paths_.emplace(item.value().get(), item.key());
  }
  /// For a module holder (TORCH_MODULE types: `Net net; torch_hook th(h, net);`).
  template <class Impl>
  torch_hook(tdbg::hook& h, torch::nn::ModuleHolder<Impl>& root, torch_options o = {})
      : torch_hook(h, *root, std::move(o)) {}

  torch_hook(const torch_hook&) = delete;
  torch_hook& operator=(const torch_hook&) = delete;
  ~torch_hook() {
    if (detail::active_torch_hook == this) detail::active_torch_hook = nullptr;
  }

  [[nodiscard]] tdbg::hook& hook() const noexcept { return *hook_; }
  [[nodiscard]] torch::nn::Module& root() const noexcept { return *root_; }
  /// <Root> in tensor names.
  [[nodiscard]] const std::string& root_name() const noexcept { return root_name_; }
  /// Tensors saved with a dtype other than their own: name → original torch dtype name.
  [[nodiscard]] const std::map<std::string, std::string>& source_dtypes() const noexcept { return source_dtypes_; }

  // ---- steps -----------------------------------------------------------------------------

  /// Starts the next step: with follow_module_mode, first switches the hook's mode to TRAIN or
  /// EVAL after root.is_training(); then hook.begin_step(); then (save_parameters_at_begin)
  /// save_parameters(). Makes this torch_hook the one capture() saves through on this thread.
  void begin_step() {
    if (options_.follow_module_mode) {
      const mode m = root_->is_training() ? mode::train : mode::eval;
      if (hook_->current_mode() != m) hook_->set_mode(m);
    }
    counters_.clear();
    detail::active_torch_hook = nullptr;
    hook_->begin_step();
    detail::active_torch_hook = this;
    if (options_.save_parameters_at_begin) save_parameters();
  }

  /// Ends the step (hook.end_step()); capture() is a no-op again on this thread.
  void end_step() {
    if (detail::active_torch_hook == this) detail::active_torch_hook = nullptr;
    hook_->end_step();
  }

  // ---- saving ----------------------------------------------------------------------------

  /// Saves every parameter of the root as "<Root>_<path>", in named_parameters() order.
  void save_parameters() {
    for (const auto& p : root_->named_parameters(/*recurse=*/true)) save(root_name_ + "_" + p.key(), p.value());
  }

  /// Saves the gradient of every parameter that has one as "gradient/<Root>_<path>". Call it
  /// after backward() and before the gradients are zeroed.
  void save_gradients() {
    for (const auto& p : root_->named_parameters(/*recurse=*/true)) {
      const auto& g = p.value().grad();
      if (g.defined()) save("gradient/" + root_name_ + "_" + p.key(), g);
    }
  }

  /// Saves the loss as "<loss_name>_output_0" (0-d for a reduced loss, as smdebug). Name the
  /// loss after its class ("CrossEntropyLoss", "MSELoss"): smdebug's `losses` collection
  /// selects names containing "Loss_" / "loss_" followed by "output".
  void save_loss(const torch::Tensor& loss, std::string_view loss_name = "Loss") {
    save_output(loss_name, loss);
  }
  /// Saves the loss's inputs as "<loss_name>_input_0" (predictions), "_input_1" (labels).
  void save_loss_inputs(const torch::Tensor& predictions, const torch::Tensor& labels,
                        std::string_view loss_name = "Loss") {
    save_input(loss_name, predictions);
    save_input(loss_name, labels);
  }

  /// Saves `t` as "<module path>_output_<i>" (see the header comment; an empty path is the
  /// root) and returns it, so it can wrap an expression: `x = th.save_output("fc1", fc1(x))`.
  const torch::Tensor& save_output(std::string_view module_path, const torch::Tensor& t) {
    save_indexed(module_path, "_output_", t);
    return t;
  }
  /// Saves `t` as "<module path>_input_<i>" and returns it.
  const torch::Tensor& save_input(std::string_view module_path, const torch::Tensor& t) {
    save_indexed(module_path, "_input_", t);
    return t;
  }
  /// As above, naming a module of the root by identity (usage_error if it is not in the root).
  const torch::Tensor& save_output(const torch::nn::Module& m, const torch::Tensor& t) {
    return save_output(path_of(m), t);
  }
  const torch::Tensor& save_input(const torch::nn::Module& m, const torch::Tensor& t) {
    return save_input(path_of(m), t);
  }

  /// Saves `t` under exactly `name` (labels, predictions, anything else).
  void save(std::string_view name, const torch::Tensor& t) {
    if (const auto src = save_tensor(*hook_, name, t, options_.bfloat16)) record_source_dtype(name, *src);
  }

  /// Runs `seq` on `x` child by child and captures each child's input and output under its
  /// module path (nested Sequentials are walked too; their own output is captured as well).
  /// `seq` must be the root or one of its modules. Returns the output, as seq->forward(x).
  torch::Tensor forward(torch::nn::Sequential& seq, torch::Tensor x) { return forward(*seq, std::move(x)); }
  torch::Tensor forward(torch::nn::SequentialImpl& seq, torch::Tensor x) {
    return run_sequential(seq, path_of(seq), std::move(x));
  }

  /// The path of a module of the root ("" for the root). usage_error if it is not in it.
  [[nodiscard]] std::string path_of(const torch::nn::Module& m) const {
    if (&m == root_) return "";
    const auto it = paths_.find(&m);
    if (it == paths_.end())
      throw usage_error("torch_hook: module " + module_class_name(m) + " is not a module of the root " + root_name_ +
                        " (modules registered after the torch_hook was made are not known)");
    return it->second;
  }

 private:
  torch::Tensor run_sequential(torch::nn::SequentialImpl& seq, const std::string& path, torch::Tensor x) {
    save_input(path, x);
    const auto children = seq.named_children();
    std::size_t i = 0;
    for (auto& any : seq) {
      const std::string child = path.empty() ? children[i].key() : path + "." + children[i].key();
      ++i;
      if (auto* inner = dynamic_cast<torch::nn::SequentialImpl*>(any.ptr().get())) {
        x = run_sequential(*inner, child, std::move(x));
      } else {
        save_input(child, x);
        x = any.forward<torch::Tensor>(std::move(x));
        save_output(child, x);
      }
    }
    save_output(path, x);
    return x;
  }

  void save_indexed(std::string_view module_path, std::string_view direction, const torch::Tensor& t) {
    std::string prefix = module_path.empty() ? root_name_ : std::string(module_path);
    prefix += direction;
    const int i = counters_[prefix]++;  // counts even when not saved: names do not depend on collections
    save(prefix + std::to_string(i), t);
  }

  void record_source_dtype(std::string_view name, c10::ScalarType s) {
    const auto [it, added] = source_dtypes_.emplace(std::string(name), std::string(c10::toString(s)));
    if (!added || hook_->options().dry_run) return;
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [n, d] : source_dtypes_) j[n] = d;
    const std::string text = j.dump();
    hook_->backend().put("source_dtypes/" + io::serialize_worker(hook_->options().worker) + ".json",
                         std::as_bytes(std::span<const char>(text.data(), text.size())));
  }

  tdbg::hook* hook_;
  torch::nn::Module* root_;
  torch_options options_;
  std::string root_name_;
  std::unordered_map<const torch::nn::Module*, std::string> paths_;
  std::unordered_map<std::string, int> counters_;  // "<path>_output_" → next index in this step
  std::map<std::string, std::string> source_dtypes_;
};

/// Captures `t` as an output of the module at `module_path` through the torch_hook whose step
/// is open on this thread, and returns it; does nothing without one. For custom modules'
/// forward(): `x = tdbg::integrations::capture("conv1", conv1(x));`.
inline const torch::Tensor& capture(std::string_view module_path, const torch::Tensor& t) {
  if (auto* th = detail::active_torch_hook) th->save_output(module_path, t);
  return t;
}

/// Whether a torch_hook's step is open on this thread (capture() would save).
[[nodiscard]] inline bool capturing() noexcept { return detail::active_torch_hook != nullptr; }

}  // namespace tdbg::integrations
