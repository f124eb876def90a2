// What every trainer shares (DESIGN §2, §4 "Training"): AdamW with parameter groups, learning-rate
// schedules from the config, gradient clipping, checkpoints on an interval and on SIGINT, `--resume`
// that repeats the loss curve of an uninterrupted run (same thread count), a loss CSV, previews.
//
// Files of a run writing model `F` (e.g. a2m.ckpt):
//   F               the model checkpoint (safetensors; written by the trainer's save function)
//   F.train         resume state: optimiser moments, step, config hash (safetensors)
//   F.losses.csv    step, lr, grad_norm, then the trainer's named losses
//   F.previews/     step_000500.png ... (when the trainer draws previews)
// Randomness inside a step must come from the generator the loop passes (seeded from the run's seed
// and the step), and batches from the step number, so a resumed run draws what the original would.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "emogene/core/image.h"
#include "emogene/core/tensor_io.h"

namespace emogene::train {

// Learning rate by step: linear warm-up from 0, then "constant", "cosine" (to lr·final_ratio at
// `steps`) or "step" (×gamma every `step_every`).
struct Schedule {
  std::string kind = "cosine";
  double lr = 1e-3;
  std::int64_t warmup = 0;
  std::int64_t steps = 1000;
  double final_ratio = 0.05;
  std::int64_t step_every = 1000;
  double gamma = 0.5;
  double lr_at(std::int64_t step) const;  // step counts from 0
};

struct GroupOptions {
  double lr_scale = 1;  // this group's learning rate = schedule × lr_scale
  double weight_decay = 0.01;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};

struct ParamGroup {
  std::string name;
  NamedTensors params;
  GroupOptions options;
};

// AdamW (Loshchilov & Hutter: decoupled weight decay), written out so its state is plain named
// tensors that checkpoints hold without pickles.
class AdamW {
 public:
  explicit AdamW(std::vector<ParamGroup> groups);
  void zero_grad();
  void step(double lr);
  std::int64_t steps() const { return t_; }
  // "<group>/<param>.m", ".v" and "adamw.t".
  NamedTensors state() const;
  void load_state(const SafetensorsFile& f);
  std::vector<torch::Tensor> parameters() const;

 private:
  std::vector<ParamGroup> groups_;
  std::vector<std::vector<torch::Tensor>> m_, v_;
  std::int64_t t_ = 0;
};

// Scales gradients so their global L2 norm is at most max_norm (<= 0: no clipping). Returns the
// norm before clipping.
double clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm);

// The `train` section of every trainer's config.
struct LoopOptions {
  Schedule schedule;
  double grad_clip = 1.0;
  std::int64_t checkpoint_every = 500;
  std::int64_t log_every = 10;
  std::int64_t preview_every = 500;
  std::uint64_t seed = 1;
};
// Reads config["train"] (steps, lr, warmup, schedule, final_ratio, step_every, gamma, grad_clip,
// checkpoint_every, log_every, preview_every, seed); missing keys keep the defaults, unknown keys
// are a bad_input naming them.
LoopOptions loop_options(const nlohmann::json& config, const std::string& where);

struct StepResult {
  torch::Tensor loss;                     // scalar, to backpropagate
  std::map<std::string, double> parts;    // named components for the CSV (ordered by name)
};

struct Hooks {
  // One training step's forward pass and loss, at `step`, with the step's own generator.
  std::function<StepResult(std::int64_t step, at::Generator& gen)> step;
  // Writes the model checkpoint to `path` (a temporary name; the loop renames it into place).
  std::function<void(const std::string& path, std::int64_t step)> save;
  // Optional: a preview image at `step`.
  std::function<Image(std::int64_t step)> preview;
};

struct RunInfo {
  std::int64_t first_step = 0, last_step = 0;
  double seconds = 0;
  std::map<std::string, double> last_parts;
  bool interrupted = false;
};

// Runs steps [resume point, schedule.steps). `out` is the model path F. With resume, reads F.train
// (bad_input when missing or written under another config), restores the optimiser, truncates the
// loss CSV to the resumed step; without, refuses to overwrite F.train of a run in progress unless
// `force`. On SIGINT: writes a checkpoint and throws Interrupted.
RunInfo run_loop(const std::string& out, const LoopOptions& opt, const nlohmann::json& config, AdamW& optimiser,
                 const Hooks& hooks, bool resume, bool force = false);

// The "emogene.provenance" metadata every checkpoint carries (DESIGN §3): JSON with the data,
// steps, date (UTC), git commit and config name.
std::string provenance(const std::string& data, std::int64_t steps, const std::string& config_name);

// Seeds for reproducible steps: a 64-bit mix of the run seed and the step.
std::uint64_t step_seed(std::uint64_t seed, std::int64_t step);

}  // namespace emogene::train
