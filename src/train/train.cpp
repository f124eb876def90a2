// The shared training machinery: AdamW, schedules, clipping, the loop with checkpoints and resume.
#include "emogene/train/train.h"

#include <ctime>

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "emogene/core/build_info.h"
#include "emogene/core/error.h"
#include "emogene/core/fileio.h"
#include "emogene/core/interrupt.h"
#include "emogene/core/progress.h"

namespace emogene::train {

namespace fs = std::filesystem;

double Schedule::lr_at(std::int64_t step) const {
  if (warmup > 0 && step < warmup) return lr * static_cast<double>(step + 1) / static_cast<double>(warmup);
  if (kind == "constant") return lr;
  if (kind == "step") return lr * std::pow(gamma, static_cast<double>((step - warmup) / std::max<std::int64_t>(1, step_every)));
  // cosine from lr at the end of warm-up to lr·final_ratio at `steps`
  const double span = static_cast<double>(std::max<std::int64_t>(1, steps - warmup));
  const double x = std::clamp(static_cast<double>(step - warmup) / span, 0.0, 1.0);
  return lr * (final_ratio + (1 - final_ratio) * 0.5 * (1 + std::cos(M_PI * x)));
}

AdamW::AdamW(std::vector<ParamGroup> groups) : groups_(std::move(groups)) {
  for (const auto& g : groups_) {
    m_.emplace_back();
    v_.emplace_back();
    for (const auto& [name, p] : g.params) {
      m_.back().push_back(torch::zeros_like(p));
      v_.back().push_back(torch::zeros_like(p));
    }
  }
}

void AdamW::zero_grad() {
  for (auto& g : groups_)
    for (auto& [name, p] : g.params)
      if (p.grad().defined()) p.mutable_grad().zero_();
}

void AdamW::step(double lr) {
  torch::NoGradGuard no_grad;
  ++t_;
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
    const GroupOptions& o = groups_[gi].options;
    const double glr = lr * o.lr_scale;
    const double bc1 = 1 - std::pow(o.beta1, static_cast<double>(t_)), bc2 = 1 - std::pow(o.beta2, static_cast<double>(t_));
    for (std::size_t i = 0; i < groups_[gi].params.size(); ++i) {
      torch::Tensor& p = groups_[gi].params[i].second;
      if (!p.grad().defined()) continue;
      const torch::Tensor& g = p.grad();
      if (o.weight_decay > 0) p.mul_(1 - glr * o.weight_decay);
      m_[gi][i].mul_(o.beta1).add_(g, 1 - o.beta1);
      v_[gi][i].mul_(o.beta2).addcmul_(g, g, 1 - o.beta2);
      torch::Tensor denom = (v_[gi][i] / bc2).sqrt_().add_(o.eps);
      p.addcdiv_(m_[gi][i], denom, -glr / bc1);
    }
  }
}

NamedTensors AdamW::state() const {
  NamedTensors out;
  for (std::size_t gi = 0; gi < groups_.size(); ++gi)
    for (std::size_t i = 0; i < groups_[gi].params.size(); ++i) {
      const std::string base = groups_[gi].name + "/" + groups_[gi].params[i].first;
      out.emplace_back("param/" + base, groups_[gi].params[i].second);
      out.emplace_back("adamw/" + base + ".m", m_[gi][i]);
      out.emplace_back("adamw/" + base + ".v", v_[gi][i]);
    }
  out.emplace_back("adamw.t", torch::tensor({t_}, torch::kLong));
  return out;
}

void AdamW::load_state(const SafetensorsFile& f) {
  torch::NoGradGuard no_grad;
  NamedTensors targets;
  for (std::size_t gi = 0; gi < groups_.size(); ++gi)
    for (std::size_t i = 0; i < groups_[gi].params.size(); ++i) {
      const std::string base = groups_[gi].name + "/" + groups_[gi].params[i].first;
      targets.emplace_back("param/" + base, groups_[gi].params[i].second);
      targets.emplace_back("adamw/" + base + ".m", m_[gi][i]);
      targets.emplace_back("adamw/" + base + ".v", v_[gi][i]);
    }
  load_into(f, targets, "", {"adamw.t"});
  t_ = to_tensor(f.get("adamw.t", {1})).item<std::int64_t>();
}

std::vector<torch::Tensor> AdamW::parameters() const {
  std::vector<torch::Tensor> out;
  for (const auto& g : groups_)
    for (const auto& [name, p] : g.params) out.push_back(p);
  return out;
}

double clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  double total = 0;
  for (const auto& p : params)
    if (p.grad().defined()) total += p.grad().to(torch::kDouble).pow(2).sum().item<double>();
  total = std::sqrt(total);
  if (max_norm > 0 && total > max_norm) {
    const double s = max_norm / (total + 1e-6);
    for (const auto& p : params)
      if (p.grad().defined()) p.grad().mul_(s);
  }
  return total;
}

LoopOptions loop_options(const nlohmann::json& config, const std::string& where) {
  LoopOptions o;
  if (!config.contains("train")) return o;
  const nlohmann::json& t = config.at("train");
  if (!t.is_object()) throw bad_input(where, "\"train\" must be an object");
  static const std::set<std::string> known = {"steps", "lr", "warmup", "schedule", "final_ratio", "step_every", "gamma",
                                              "grad_clip", "checkpoint_every", "log_every", "preview_every", "seed"};
  for (auto it = t.begin(); it != t.end(); ++it)
    if (!known.count(it.key())) throw bad_input(where, "unknown setting train." + it.key());
  try {
    o.schedule.steps = t.value("steps", o.schedule.steps);
    o.schedule.lr = t.value("lr", o.schedule.lr);
    o.schedule.warmup = t.value("warmup", o.schedule.warmup);
    o.schedule.kind = t.value("schedule", o.schedule.kind);
    o.schedule.final_ratio = t.value("final_ratio", o.schedule.final_ratio);
    o.schedule.step_every = t.value("step_every", o.schedule.step_every);
    o.schedule.gamma = t.value("gamma", o.schedule.gamma);
    o.grad_clip = t.value("grad_clip", o.grad_clip);
    o.checkpoint_every = t.value("checkpoint_every", o.checkpoint_every);
    o.log_every = t.value("log_every", o.log_every);
    o.preview_every = t.value("preview_every", o.preview_every);
    o.seed = t.value("seed", o.seed);
  } catch (const nlohmann::json::exception& e) {
    throw bad_input(where, std::string("a train setting has the wrong type (") + e.what() + ")");
  }
  if (o.schedule.kind != "cosine" && o.schedule.kind != "constant" && o.schedule.kind != "step")
    throw bad_input(where, "train.schedule must be cosine, constant or step, not '" + o.schedule.kind + "'");
  if (o.schedule.steps <= 0) throw bad_input(where, "train.steps must be positive");
  if (!(o.schedule.lr > 0)) throw bad_input(where, "train.lr must be positive");
  if (o.checkpoint_every <= 0 || o.log_every <= 0 || o.preview_every <= 0)
    throw bad_input(where, "train.checkpoint_every, log_every and preview_every must be positive");
  return o;
}

std::uint64_t step_seed(std::uint64_t seed, std::int64_t step) {
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(step) * 0xD1B54A32D192ED03ull + 0x632BE59BD9B4E019ull;
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return x;
}

namespace {

std::string csv_header(const std::map<std::string, double>& parts) {
  std::string h = "step,lr,grad_norm";
  for (const auto& [k, v] : parts) h += "," + k;
  return h;
}

// Keeps the header and the rows with step <= last; returns false when the file does not exist.
void truncate_csv(const std::string& path, std::int64_t last) {
  std::ifstream in(path);
  if (!in) return;
  std::string line, kept;
  bool header = true;
  while (std::getline(in, line)) {
    if (header) {
      kept += line + "\n";
      header = false;
      continue;
    }
    if (line.empty()) continue;
    std::int64_t s = std::atoll(line.c_str());
    if (s <= last) kept += line + "\n";
  }
  in.close();
  write_file_atomic(path, kept.data(), kept.size());
}

}  // namespace

std::string provenance(const std::string& data, std::int64_t steps, const std::string& config_name) {
  std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return nlohmann::json{{"data", data}, {"steps", steps}, {"date", date}, {"git_commit", git_commit()}, {"config", config_name}}.dump();
}

RunInfo run_loop(const std::string& out, const LoopOptions& opt, const nlohmann::json& config, AdamW& optimiser,
                 const Hooks& hooks, bool resume, bool force) {
  const std::string state_path = out + ".train", csv_path = out + ".losses.csv", preview_dir = out + ".previews";
  const std::string config_text = config.dump();
  RunInfo info;
  std::int64_t done = 0;
  if (resume) {
    if (!fs::exists(state_path)) throw bad_input(state_path, "no training state to resume from (start without --resume)");
    SafetensorsFile f(state_path);
    if (f.meta("emogene.kind") != "train-state") throw bad_input(state_path, "not an emogene training state");
    if (f.meta("config") != config_text)
      throw bad_input(state_path, "was written under another config; resume with the same config and --set options");
    optimiser.load_state(f);
    done = optimiser.steps();
    truncate_csv(csv_path, done);
    spdlog::info("resuming {} at step {}", out, done);
  } else if (fs::exists(state_path) && !force) {
    throw bad_input(state_path, "a training run is in progress here: add --resume to continue it, or --force to start over");
  } else {
    std::error_code ec;
    fs::remove(csv_path, ec);
    fs::remove_all(preview_dir, ec);
  }
  const std::int64_t total = opt.schedule.steps;
  info.first_step = done;
  auto checkpoint = [&](std::int64_t step) {
    AtomicOutput model(out);
    hooks.save(model.temp_path(), step);
    model.commit();
    std::map<std::string, std::string> meta = {{"emogene.kind", "train-state"}, {"config", config_text},
                                               {"step", std::to_string(step)}};
    write_tensors(state_path, optimiser.state(), meta);
  };
  std::ofstream csv;
  bool header_written = resume && fs::exists(csv_path) && fs::file_size(csv_path) > 0;
  csv.open(csv_path, std::ios::app);
  if (!csv) throw bad_input(csv_path, "cannot write the loss log: " + errno_text(errno));
  Progress progress("train", total, "steps");
  progress.update(done);
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<torch::Tensor> params = optimiser.parameters();
  while (done < total) {
    const std::int64_t step = done;
    at::Generator gen = at::detail::createCPUGenerator(step_seed(opt.seed, step));
    optimiser.zero_grad();
    StepResult r = hooks.step(step, gen);
    if (!r.loss.defined() || r.loss.numel() != 1) throw internal_error("train", "the step did not return a scalar loss");
    const double loss = r.loss.item<double>();
    if (!std::isfinite(loss)) {
      checkpoint(step);
      throw internal_error("train", "loss is not finite at step " + std::to_string(step) + " (checkpoint kept at the last good step)");
    }
    r.loss.backward();
    const double gnorm = clip_grad_norm(params, opt.grad_clip);
    const double lr = opt.schedule.lr_at(step);
    optimiser.step(lr);
    done = step + 1;
    info.last_parts = r.parts;
    info.last_parts["loss"] = loss;
    if (done % opt.log_every == 0 || done == total) {
      if (!header_written) {
        csv << csv_header(r.parts) << "\n";
        header_written = true;
      }
      char buf[64];
      csv << done;
      std::snprintf(buf, sizeof buf, ",%.6g,%.6g", lr, gnorm);
      csv << buf;
      for (const auto& [k, v] : r.parts) {
        std::snprintf(buf, sizeof buf, ",%.8g", v);
        csv << buf;
      }
      csv << "\n";
      csv.flush();
    }
    char extra[64];
    std::snprintf(extra, sizeof extra, "loss %.4g", loss);
    progress.update(done, extra);
    if (hooks.preview && (done % opt.preview_every == 0 || done == total)) {
      fs::create_directories(preview_dir);
      char name[64];
      std::snprintf(name, sizeof name, "/step_%06lld.png", static_cast<long long>(done));
      write_png(preview_dir + name, hooks.preview(done));
    }
    if (done % opt.checkpoint_every == 0 || done == total) checkpoint(done);
    if (interrupted()) {
      if (done % opt.checkpoint_every != 0 && done != total) checkpoint(done);
      info.interrupted = true;
      progress.finish();
      throw Error(ErrorKind::Interrupted, "train: interrupted at step " + std::to_string(done) + "; checkpoint written, continue with --resume");
    }
  }
  progress.finish();
  info.last_step = done;
  info.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return info;
}

}  // namespace emogene::train
