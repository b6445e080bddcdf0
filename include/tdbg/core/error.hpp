// tdbg/core/error.hpp — the exception hierarchy of tdbg.
// Layer: core (depends on nothing but the standard library).
// Every failure tdbg reports is a `tdbg::error`. The subclasses mirror the exceptions of
// smdebug (spec §9.9) so that code written against smdebug's semantics can be ported one to one,
// and each message names the tensor, step, mode, worker or file involved.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

namespace tdbg {

/// Base of every exception tdbg throws.
class error : public std::runtime_error {
 public:
  explicit error(const std::string& what) : std::runtime_error(what) {}
};

/// Bad arguments or misuse of an API (a programming error of the caller).
class usage_error : public error {
 public:
  using error::error;
};

/// Invalid configuration: a collection, a save config, a regex, a hook option.
class config_error : public error {
 public:
  using error::error;
};

/// Reading or writing storage failed (missing directory, permission, short write ...).
class io_error : public error {
 public:
  using error::error;
};

/// Bytes that do not follow the trial format: a bad record CRC, a malformed protobuf,
/// an unknown dtype, a corrupt index file. The message names the file and offset.
class format_error : public error {
 public:
  using error::error;
};

/// A corrupt or unparsable index file or index file name (smdebug: IndexReaderException).
class index_reader_error : public format_error {
 public:
  using format_error::format_error;
};

/// The trial has no tensor of that name (smdebug: TensorUnavailable).
class tensor_unavailable_error : public error {
 public:
  explicit tensor_unavailable_error(std::string tensor)
      : error("tensor '" + tensor + "' is not in the trial"), tensor_(std::move(tensor)) {}
  [[nodiscard]] const std::string& tensor() const noexcept { return tensor_; }

 private:
  std::string tensor_;
};

/// The step exists, but this tensor (or its raw value, or this reduction) was not saved there
/// (smdebug: TensorUnavailableForStep).
class tensor_unavailable_for_step_error : public error {
 public:
  tensor_unavailable_for_step_error(std::string tensor, std::int64_t step, std::string mode,
                                    bool has_reductions = false, std::string detail = {})
      : error("tensor '" + tensor + "' is not available at step " + std::to_string(step) +
              " of mode " + mode + (detail.empty() ? std::string() : ": " + detail) +
              (has_reductions ? " (only reductions were saved there)" : "")),
        tensor_(std::move(tensor)), step_(step), mode_(std::move(mode)),
        has_reductions_(has_reductions) {}
  [[nodiscard]] const std::string& tensor() const noexcept { return tensor_; }
  [[nodiscard]] std::int64_t step() const noexcept { return step_; }
  [[nodiscard]] const std::string& mode() const noexcept { return mode_; }
  [[nodiscard]] bool has_reductions() const noexcept { return has_reductions_; }

 private:
  std::string tensor_;
  std::int64_t step_;
  std::string mode_;
  bool has_reductions_;
};

/// Common base of the three "this step is not there" conditions.
class step_error : public error {
 public:
  step_error(const std::string& what, std::int64_t step, std::string mode)
      : error(what), step_(step), mode_(std::move(mode)) {}
  [[nodiscard]] std::int64_t step() const noexcept { return step_; }
  [[nodiscard]] const std::string& mode() const noexcept { return mode_; }

 private:
  std::int64_t step_;
  std::string mode_;
};

/// The step will never exist: it was skipped by the save config, or it is past the end of a
/// finished job (smdebug: StepUnavailable).
class step_unavailable_error : public step_error {
 public:
  step_unavailable_error(std::int64_t step, const std::string& mode, const std::string& tensor = {})
      : step_error((tensor.empty() ? std::string() : "tensor '" + tensor + "': ") + "step " +
                       std::to_string(step) + " of mode " + mode + " was not saved",
                   step, mode) {}
};

/// The step is not written yet and the job is still running (smdebug: StepNotYetAvailable).
class step_not_yet_available_error : public step_error {
 public:
  step_not_yet_available_error(std::int64_t step, const std::string& mode,
                               const std::string& tensor = {})
      : step_error((tensor.empty() ? std::string() : "tensor '" + tensor + "': ") + "step " +
                       std::to_string(step) + " of mode " + mode +
                       " is not available yet (the job is still writing)",
                   step, mode) {}
};

/// The job has ended and the step is beyond its data (smdebug: NoMoreData).
class no_more_data_error : public step_error {
 public:
  no_more_data_error(std::int64_t step, const std::string& mode, std::int64_t last_step)
      : step_error("step " + std::to_string(step) + " of mode " + mode +
                       " is beyond the end of the finished job (last step " +
                       std::to_string(last_step) + ")",
                   step, mode),
        last_step_(last_step) {}
  [[nodiscard]] std::int64_t last_step() const noexcept { return last_step_; }

 private:
  std::int64_t last_step_;
};

/// The worker has no data at that step (smdebug: InvalidWorker).
class invalid_worker_error : public error {
 public:
  invalid_worker_error(std::string worker, const std::string& tensor, std::int64_t step,
                       const std::string& mode)
      : error("worker '" + worker + "' has no value of tensor '" + tensor + "' at step " +
              std::to_string(step) + " of mode " + mode),
        worker_(std::move(worker)) {}
  [[nodiscard]] const std::string& worker() const noexcept { return worker_; }

 private:
  std::string worker_;
};

/// Neither a stored shape nor a value exists (smdebug: ShapeUnavailableForStep).
class shape_unavailable_error : public error {
 public:
  using error::error;
};

/// The job ended without (all) collections files (smdebug: MissingCollectionFiles).
class missing_collection_files_error : public error {
 public:
  using error::error;
};

}  // namespace tdbg
