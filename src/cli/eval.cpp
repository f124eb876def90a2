// `emogene eval`: the quality metrics (docs/architecture.md §7) that the inputs allow, computed by
// the libraries (motion/, emotion/, render/, eval/); this file parses and prints:
// - an a2m checkpoint (--pred) against a dataset (--ref): M-LMD, F-LMD, lip-gap correlation,
//   closures at p/b/m, KL per latent channel, seed spread, and (with --sync) the sync expert's
//   confidence and best offset;
// - an a2m checkpoint on any audio (--audio, files or folders; no ground truth): lip gap against the
//   audio envelope (correlation and lag) and, with --sync, the expert's figures;
// - a sync checkpoint against a dataset: its accuracy by offset;
// - m2e and emoclf checkpoints against a dataset; a nerf checkpoint against a subject dataset (with
//   --control: dlib's reading of the renders); a render --dump folder: head motion.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "emogene/audio/audio.h"
#include "emogene/core/error.h"
#include "emogene/core/image.h"
#include "emogene/core/safetensors.h"
#include "emogene/dataset/dataset.h"
#include "emogene/emotion/emoclf.h"
#include "emogene/emotion/m2e_io.h"
#include "emogene/eval/control.h"
#include "emogene/eval/landmark_metrics.h"
#include "emogene/eval/pose_metrics.h"
#include "emogene/core/npy.h"
#include "emogene/motion/a2m_io.h"
#include "emogene/motion/sync.h"
#include "emogene/face/face.h"
#include "emogene/render/nerf_train.h"
#include "emogene/render/subject_model.h"

namespace emogene::cli {

namespace {

namespace fs = std::filesystem;

struct Args {
  std::string pred, ref, sync, clf, split = "test", renderer = "auto", write;
  std::vector<std::string> audio;
  std::int64_t stride = 1, max_frames = 0;
  bool control = false;
  std::string drive;
  double temperature = 0, fps = 25;
  bool json = false;
};

std::unique_ptr<features::FeatureExtractor> extractor_for(const features::FrontEndInfo& fe) {
  features::ExtractorOptions xo;
  xo.kind = fe.extractor;
  xo.weights = fe.weights;
  xo.layer = fe.layer;
  return features::make_extractor(xo);
}

// Files given, and the audio files under folders given (recursive, sorted).
std::vector<std::string> audio_files(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (const auto& a : args) {
    std::error_code ec;
    if (!fs::is_directory(a, ec)) {
      out.push_back(a);
      continue;
    }
    const std::vector<std::string> found = audio::list_audio_files(a);
    if (found.empty()) throw bad_input(a, "has no audio files");
    out.insert(out.end(), found.begin(), found.end());
  }
  return out;
}

nlohmann::json sync_json(const motion::SyncScore& s) {
  return {{"windows", s.windows}, {"best_offset", s.best_offset}, {"confidence", s.confidence}, {"margin", s.margin},
          {"offsets", s.offsets}, {"cosine", s.cosine}};
}

void print_sync(const motion::SyncScore& s) {
  if (s.windows == 0) {
    std::printf("sync         (clips too short for the expert)\n");
    return;
  }
  std::printf("sync         best offset %+d frames, confidence %.3f, margin %.3f (%lld windows)\n", s.best_offset, s.confidence,
              s.margin, static_cast<long long>(s.windows));
}

void eval_sync_checkpoint(const Args& a) {
  if (a.ref.empty()) throw bad_input("--ref", "a sync checkpoint is measured against a dataset: give --ref DIR");
  motion::SyncExpert ex(a.pred);
  auto fx = extractor_for(ex.front_end());
  motion::SyncCurve c = ex.curve(a.ref, a.split, *fx);
  nlohmann::json j = {{"split", a.split}, {"windows", c.windows}, {"offsets", c.offsets}, {"accuracy", c.accuracy},
                      {"balanced_accuracy", c.auc_like}};
  if (a.json) {
    std::printf("%s\n", j.dump(1).c_str());
    return;
  }
  std::printf("split %s: %lld windows\noffset (frames)  accuracy\n", a.split.c_str(), static_cast<long long>(c.windows));
  for (std::size_t k = 0; k < c.offsets.size(); ++k) std::printf("%+15d  %.1f%%\n", c.offsets[k], 100 * c.accuracy[k]);
  std::printf("balanced       %.1f%%\n", 100 * c.auc_like);
}

void eval_a2m_checkpoint(const Args& a) {
  if (a.ref.empty() && a.audio.empty()) throw bad_input("--ref", "give a dataset (--ref DIR) or audio (--audio FILE|DIR)");
  motion::A2MModel m(a.pred);
  auto fx = extractor_for(m.front_end());
  std::unique_ptr<motion::SyncExpert> sync;
  if (!a.sync.empty()) {
    SafetensorsFile sf(a.sync);
    if (sf.meta("emogene.kind") != "sync") throw bad_input(a.sync, "is not a sync expert checkpoint (kind '" + sf.meta("emogene.kind") + "')");
    sync = std::make_unique<motion::SyncExpert>(a.sync);
    sync->check_front_end(fx->info());
  }
  nlohmann::json out;
  if (!a.ref.empty()) {
    motion::A2MEval e = motion::evaluate_a2m(m, a.ref, a.split, *fx, a.temperature, sync.get());
    out["dataset"] = {{"split", a.split}, {"clips", e.clips}, {"frames", e.frames}, {"m_lmd_iod", e.m_lmd},
                      {"m_lmd_px256", e.m_lmd_px}, {"f_lmd_iod", e.f_lmd}, {"lip_gap_r", e.lip_gap_r},
                      {"bilabials", e.bilabials}, {"closed_at_bilabials", e.closed_at_bilabials},
                      {"kl_per_dim", e.kl_per_dim}, {"seed_diff_f_lmd", e.seed_diff}, {"temperature", a.temperature}};
    if (sync) out["dataset"]["sync"] = sync_json(e.sync);
    if (!a.json) {
      std::printf("split %s: %lld clips, %lld frames, temperature %g\n", a.split.c_str(), static_cast<long long>(e.clips),
                  static_cast<long long>(e.frames), a.temperature);
      std::printf("M-LMD        %.4f IOD  (%.2f px at 256x256)\nF-LMD        %.4f IOD\nlip-gap r    %.3f\n", e.m_lmd,
                  e.m_lmd_px, e.f_lmd, e.lip_gap_r);
      std::printf("p/b/m closed %.1f%% of %lld\n", 100 * e.closed_at_bilabials, static_cast<long long>(e.bilabials));
      std::printf("seeds 1 vs 2 %.4f IOD (F-LMD between the two samples)\nKL per dim  ", e.seed_diff);
      for (double k : e.kl_per_dim) std::printf(" %.3g", k);
      std::printf("\n");
      if (sync) print_sync(e.sync);
    }
  }
  if (!a.audio.empty()) {
    const std::vector<std::string> paths = audio_files(a.audio);
    const motion::AudioEval e = motion::evaluate_a2m_on_audio(m, paths, *fx, a.fps, a.temperature, sync.get());
    nlohmann::json files = nlohmann::json::array();
    for (const motion::AudioFileEval& f : e.files) {
      nlohmann::json fj = {{"file", f.file}, {"seconds", f.seconds}, {"r0", f.r0}, {"best_lag", f.lag}, {"r_at_lag", f.r_at_lag}};
      if (sync) fj["sync"] = sync_json(f.sync);
      files.push_back(fj);
      if (!a.json)
        std::printf("%s: lip gap vs envelope r %.3f (best %.3f at lag %+d frames)%s\n", f.file.c_str(), f.r0, f.r_at_lag, f.lag,
                    sync ? fmt::format(", sync offset {:+d} conf {:.3f}", f.sync.best_offset, f.sync.confidence).c_str() : "");
    }
    out["audio"] = {{"files", files}, {"fps", a.fps}, {"mean_r0", e.mean_r0}, {"mean_r_at_lag", e.mean_r_at_lag}, {"mean_lag", e.mean_lag}};
    if (sync) out["audio"]["sync"] = sync_json(e.sync);
    if (!a.json) {
      std::printf("audio: %zu files at %g fps, lip gap vs envelope mean r %.3f (best-lag r %.3f, mean lag %+.2f frames; lag > 0: lips follow)\n",
                  paths.size(), a.fps, e.mean_r0, e.mean_r_at_lag, e.mean_lag);
      if (sync) print_sync(e.sync);
    }
  }
  if (a.json) std::printf("%s\n", out.dump(1).c_str());
}

void eval_m2e_checkpoint(const Args& a) {
  if (a.ref.empty()) throw bad_input("--ref", "an m2e checkpoint is measured against a dataset: give --ref DIR");
  emotion::M2EModel m(a.pred);
  std::unique_ptr<emotion::EmoClassifier> clf;
  if (!a.clf.empty()) clf = std::make_unique<emotion::EmoClassifier>(a.clf);
  emotion::M2EEval e = emotion::evaluate_m2e(m, a.ref, a.split, clf.get());
  nlohmann::json j = {{"split", a.split}, {"kind", m.kind()}, {"clips", e.clips}, {"frames", e.frames},
                      {"f_lmd_iod", e.f_lmd}, {"m_lmd_iod", e.m_lmd}, {"f_lmd_input_iod", e.f_lmd_input},
                      {"m_lmd_input_iod", e.m_lmd_input}, {"lip_gap_r", e.lip_gap_r}, {"neutral_error_iod", e.neutral_error},
                      {"magnitude_by_intensity", e.magnitude}, {"monotonic", e.monotonic},
                      {"transition_step", e.transition_step}, {"ordinary_step_p95", e.ordinary_step},
                      {"ordinary_step_mean", e.ordinary_mean}};
  if (clf) j["emotion"] = {{"clips", e.emotion_clips}, {"accuracy", e.emotion_accuracy}, {"accuracy_truth", e.emotion_accuracy_truth}};
  if (a.json) {
    std::printf("%s\n", j.dump(1).c_str());
    return;
  }
  std::printf("split %s: %lld clips, %lld frames (%s)\n", a.split.c_str(), static_cast<long long>(e.clips),
              static_cast<long long>(e.frames), m.kind().c_str());
  std::printf("F-LMD        %.5f IOD (input unchanged: %.5f)\nM-LMD        %.5f IOD (input unchanged: %.5f)\n", e.f_lmd,
              e.f_lmd_input, e.m_lmd, e.m_lmd_input);
  std::printf("lip-gap r    %.3f (output vs input)\nneutral      %.2e IOD from the input\n", e.lip_gap_r, e.neutral_error);
  std::printf("magnitude    %.5f / %.5f / %.5f at intensity 1/3, 2/3, 1 (%s)\n", e.magnitude[0], e.magnitude[1],
              e.magnitude[2], e.monotonic ? "monotonic" : "NOT monotonic");
  std::printf("transition   largest step %.5f vs ordinary p95 %.5f (mean %.5f)\n", e.transition_step, e.ordinary_step,
              e.ordinary_mean);
  if (clf)
    std::printf("emotion acc  %.1f%% of %lld clips at intensity >= 2/3 (ground truth %.1f%%)\n", 100 * e.emotion_accuracy,
                static_cast<long long>(e.emotion_clips), 100 * e.emotion_accuracy_truth);
}

void eval_emoclf_checkpoint(const Args& a) {
  if (a.ref.empty()) throw bad_input("--ref", "an emoclf checkpoint is measured against a dataset: give --ref DIR");
  emotion::EmoClassifier c(a.pred);
  emotion::EmoClfEval e = emotion::evaluate_emoclf(c, a.ref, a.split);
  nlohmann::json j = {{"split", a.split}, {"clips", e.clips}, {"accuracy", e.accuracy}, {"strong_clips", e.strong_clips},
                      {"strong_accuracy", e.strong_accuracy}, {"confusion", e.confusion}};
  if (a.json) {
    std::printf("%s\n", j.dump(1).c_str());
    return;
  }
  std::printf("split %s: accuracy %.1f%% of %lld clips; %.1f%% of %lld at intensity >= 2/3\nconfusion (rows truth, columns predicted):\n",
              a.split.c_str(), 100 * e.accuracy, static_cast<long long>(e.clips), 100 * e.strong_accuracy,
              static_cast<long long>(e.strong_clips));
  for (int r = 0; r < emotion::kNumEmotions; ++r) {
    std::printf("%-10s", emotion::emotion_names()[static_cast<std::size_t>(r)]);
    for (int k = 0; k < emotion::kNumEmotions; ++k) std::printf(" %4d", e.confusion[static_cast<std::size_t>(r)][static_cast<std::size_t>(k)]);
    std::printf("\n");
  }
}

// dlib's 68 points of the largest face in an image, or nothing.
std::optional<eval::ImagePoints> dlib_points(const Image& img, face::FaceDetector& det, face::LandmarkPredictor& pred) {
  const std::vector<face::FaceBox> boxes = det.detect(img);
  if (boxes.empty()) return std::nullopt;
  return pred.predict(img, *std::max_element(boxes.begin(), boxes.end(), [](const auto& x, const auto& y) { return x.width() < y.width(); }));
}

void eval_nerf_checkpoint(const Args& a) {
  if (a.ref.empty()) throw bad_input("--ref", "a nerf checkpoint is measured against a subject dataset: give --ref DIR");
  const render::SubjectModel m(a.pred);
  render::NerfEvalOptions o;
  o.split = a.split;
  o.renderer = a.renderer;
  o.stride = a.stride;
  o.max_frames = a.max_frames;
  o.write_dir = a.write;
  o.drive_split = a.drive;
  eval::Control ctl;
  std::unique_ptr<face::FaceDetector> det;
  std::unique_ptr<face::LandmarkPredictor> pred;
  if (a.control) {
    det = std::make_unique<face::FaceDetector>(0);
    pred = std::make_unique<face::LandmarkPredictor>();
    o.hook = [&](const Image& img, const float* lm, const float* px) {
      ++ctl.frames;
      std::vector<face::FaceBox> boxes = det->detect(img);
      face::FaceBox box;
      if (!boxes.empty()) {
        ++ctl.detected;
        box = *std::max_element(boxes.begin(), boxes.end(), [](const auto& x, const auto& y) { return x.width() < y.width(); });
      } else {  // the projected driving landmarks' box
        box.left = box.top = 1e9;
        box.right = box.bottom = -1e9;
        for (int i = 0; i < 68; ++i) {
          box.left = std::min<double>(box.left, px[2 * i]);
          box.right = std::max<double>(box.right, px[2 * i]);
          box.top = std::min<double>(box.top, px[2 * i + 1]);
          box.bottom = std::max<double>(box.bottom, px[2 * i + 1]);
        }
      }
      ctl.add(Eigen::Map<const landmarks::Shape>(lm), pred->predict(img, box));
    };
  }
  const render::NerfEval e = render::evaluate_nerf(m, a.ref, o);
  nlohmann::json j = {{"split", a.split},         {"frames", e.frames},         {"renderer", a.renderer},
                      {"psnr_face", e.psnr_face}, {"psnr_mouth", e.psnr_mouth}, {"psnr_frame", e.psnr_frame},
                      {"ssim_face", e.ssim_face}, {"ssim_frame", e.ssim_frame}, {"samples_per_frame", e.samples_per_frame},
                      {"seconds_per_frame", e.seconds_per_frame}, {"driven_by", a.drive.empty() ? a.split : a.drive}};
  eval::ControlStats cs, ts;
  eval::Control truth;
  if (a.control && ctl.frames > 0) {
    cs = eval::control_stats(ctl);
    j["control"] = {{"frames", ctl.frames}, {"detected", ctl.detected}, {"lip_gap_r", cs.r_gap}, {"eye_openness_r", cs.r_eye},
                    {"blink_frames", cs.blink_frames}, {"dlib_eye_at_blinks_vs_open", cs.blink_ratio}};
    if (a.drive.empty()) {
      truth = eval::control_on_dataset(a.ref, a.split, a.stride, [&](const Image& img) { return dlib_points(img, *det, *pred); });
      ts = eval::control_stats(truth);
      j["control_truth"] = {{"frames", truth.frames}, {"detected", truth.detected}, {"lip_gap_r", ts.r_gap}, {"eye_openness_r", ts.r_eye},
                            {"blink_frames", ts.blink_frames}, {"dlib_eye_at_blinks_vs_open", ts.blink_ratio}};
    }
  }
  if (a.json) {
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("nerf %s on the '%s' split (%lld frames, %s renderer, %s landmarks, true poses, test latent)\n", a.pred.c_str(),
              a.split.c_str(), static_cast<long long>(e.frames), a.renderer.c_str(),
              a.drive.empty() ? "its own" : ("the '" + a.drive + "' split's").c_str());
  std::printf("  PSNR face box   %7.2f dB   SSIM %.4f\n", e.psnr_face, e.ssim_face);
  std::printf("  PSNR mouth box  %7.2f dB\n", e.psnr_mouth);
  std::printf("  PSNR frame      %7.2f dB   SSIM %.4f\n", e.psnr_frame, e.ssim_frame);
  std::printf("  %.0f head samples a frame, %.3f s a frame\n", e.samples_per_frame, e.seconds_per_frame);
  if (a.control)
    std::printf("  dlib on the renders (%lld of %lld faces detected): lip gap r %.3f, eye openness r %.3f; at the %lld driving "
                "blink frames dlib's eye openness is %.2f of the open frames'\n",
                static_cast<long long>(ctl.detected), static_cast<long long>(ctl.frames), cs.r_gap, cs.r_eye,
                static_cast<long long>(cs.blink_frames), cs.blink_ratio);
  if (a.control && truth.frames > 0)
    std::printf("  dlib on the true frames, for scale (%lld of %lld detected): lip gap r %.3f, eye openness r %.3f; at the %lld "
                "blink frames %.2f of the open frames'\n",
                static_cast<long long>(truth.detected), static_cast<long long>(truth.frames), ts.r_gap, ts.r_eye,
                static_cast<long long>(ts.blink_frames), ts.blink_ratio);
}

// A render dump (--dump DIR): head motion in idle and speaking stretches (EmoGene Table II).
void eval_motion_dump(const Args& a) {
  const std::string poses_path = a.pred + "/poses.npy", idle_path = a.pred + "/idle.npy";
  if (!fs::exists(poses_path) || !fs::exists(idle_path))
    throw bad_input(a.pred, "is a folder without poses.npy and idle.npy (a render --dump folder)");
  const Array P = read_npy(poses_path), I = read_npy(idle_path);
  if (P.shape.size() != 3 || P.shape[1] != 4 || P.shape[2] != 4) throw bad_input(poses_path, "poses must be [T, 4, 4]");
  if (I.shape.size() != 1 || I.shape[0] != P.shape[0]) throw bad_input(idle_path, "idle must be [T] with T = the poses' frames");
  const std::vector<float> poses = P.to_float(), idle_f = I.to_float();
  std::vector<std::uint8_t> idle(idle_f.size()), speech(idle_f.size());
  for (std::size_t i = 0; i < idle_f.size(); ++i) {
    idle[i] = idle_f[i] > 0.5f;
    speech[i] = !idle[i];
  }
  const eval::MotionStats mi = eval::pose_motion(poses, idle), ms = eval::pose_motion(poses, speech);
  auto js = [](const eval::MotionStats& m) {
    return nlohmann::json{{"steps", m.steps},
                          {"rotation_velocity_deg", {m.rot_vel_mean, m.rot_vel_std}},
                          {"rotation_acceleration_deg", {m.rot_acc_mean, m.rot_acc_std}},
                          {"translation_velocity", {m.trans_vel_mean, m.trans_vel_std}},
                          {"translation_acceleration", {m.trans_acc_mean, m.trans_acc_std}}};
  };
  if (a.json) {
    std::printf("%s\n", nlohmann::json{{"idle", js(mi)}, {"speaking", js(ms)}}.dump(2).c_str());
    return;
  }
  std::printf("head motion of %s (per frame; mean ± std)\n", a.pred.c_str());
  std::printf("%-9s %6s  %-22s %-22s %-24s %-24s\n", "", "steps", "rot. velocity (deg)", "rot. accel. (deg)", "transl. velocity", "transl. accel.");
  for (const auto& [name, m] : {std::pair<const char*, eval::MotionStats>{"idle", mi}, {"speaking", ms}})
    std::printf("%-9s %6lld  %8.4f ± %-10.4f %8.4f ± %-10.4f %9.5f ± %-11.5f %9.5f ± %-11.5f\n", name, static_cast<long long>(m.steps),
                m.rot_vel_mean, m.rot_vel_std, m.rot_acc_mean, m.rot_acc_std, m.trans_vel_mean, m.trans_vel_std, m.trans_acc_mean,
                m.trans_acc_std);
}

}  // namespace

void setup_eval(CLI::App& app, RunFn& run) {
  auto a = std::make_shared<Args>();
  CLI::App* sub = app.add_subcommand(
      "eval", "Quality metrics (defined in docs/architecture.md §7). --pred an a2m checkpoint with --ref a dataset: M-LMD and F-LMD (IOD units "
              "and px at 256²), lip-gap correlation, lip closure at p/b/m midpoints, KL per latent channel, seed spread, "
              "and with --sync the expert's confidence and best offset; with --audio (files or folders of real speech, "
              "no ground truth) the lip gap against the audio envelope. --pred a sync checkpoint with --ref: its "
              "accuracy by offset (±1, ±2, ±5 frames). --pred an m2e checkpoint with --ref (and --clf an emoclf "
              "checkpoint): error to the true emotional landmarks, lip gap kept, neutral identity, magnitude by "
              "intensity, transition steps, emotion accuracy. --pred an emoclf checkpoint with --ref: its accuracy "
              "and confusion matrix. --pred a nerf checkpoint with --ref a subject dataset: PSNR of the face box, the "
              "mouth box and the whole frame, and SSIM, of frames rendered from the split's true landmarks and poses");
  sub->add_option("--pred", a->pred, "What to measure: an a2m, sync, m2e, emoclf or nerf checkpoint, or a render --dump folder (head motion in idle and speaking stretches)")->required();
  sub->add_option("--ref", a->ref, "Reference: a dataset folder with landmarks_neutral.npy");
  sub->add_option("--audio", a->audio, "Audio files or folders (recursive) to drive an a2m checkpoint with (repeatable)");
  sub->add_option("--sync", a->sync, "A sync expert checkpoint for the Sync metric of an a2m checkpoint");
  sub->add_option("--clf", a->clf, "An emoclf checkpoint for the emotion accuracy of an m2e checkpoint");
  sub->add_option("--split", a->split, "Dataset split")->capture_default_str();
  sub->add_option("--temperature", a->temperature, "Latent temperature (0 = the prior's mean)")->capture_default_str();
  sub->add_option("--fps", a->fps, "--audio: the video rate the lip gap, envelope and lag are counted in")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--stride", a->stride, "nerf: render every N-th frame of the split")->check(CLI::PositiveNumber)->capture_default_str();
  sub->add_option("--max-frames", a->max_frames, "nerf: at most this many frames (0 = all)")->capture_default_str();
  sub->add_option("--renderer", a->renderer, "nerf: which renderer draws the frames: auto (cpu on a CPU device), cpu, plain")->capture_default_str();
  sub->add_option("--write", a->write, "nerf: a folder to write truth | render PNGs into");
  sub->add_flag("--control", a->control, "nerf: read the renders with dlib and correlate lip gap and eye openness with the driving landmarks");
  sub->add_option("--drive", a->drive, "nerf: drive the split's poses with another split's landmarks (e.g. val)");
  sub->add_flag("--json", a->json, "Print JSON instead of a table");
  sub->callback([a, &run] {
    run = [a] {
      if (fs::is_directory(a->pred)) {
        eval_motion_dump(*a);
        return;
      }
      SafetensorsFile f(a->pred);
      const std::string kind = f.meta("emogene.kind");
      if (kind == "a2m")
        eval_a2m_checkpoint(*a);
      else if (kind == "sync")
        eval_sync_checkpoint(*a);
      else if (kind == "m2e")
        eval_m2e_checkpoint(*a);
      else if (kind == "emoclf")
        eval_emoclf_checkpoint(*a);
      else if (kind == "nerf")
        eval_nerf_checkpoint(*a);
      else
        throw bad_input(a->pred, "eval measures a2m, sync, m2e, emoclf and nerf checkpoints (this is '" + kind + "')");
    };
  });
}

}  // namespace emogene::cli
