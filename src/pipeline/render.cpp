// `emogene render`: one audio file to one MP4 (render.h).
#include "emogene/pipeline/render.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "emogene/audio/audio.h"
#include "emogene/audio/vad.h"
#include "emogene/core/error.h"
#include "emogene/core/fileio.h"
#include "emogene/core/interrupt.h"
#include "emogene/core/npy.h"
#include "emogene/core/progress.h"
#include "emogene/emotion/m2e_io.h"
#include "emogene/emotion/spec.h"
#include "emogene/features/features.h"
#include "emogene/landmarks/landmarks.h"
#include "emogene/motion/a2m_io.h"
#include "emogene/pose/performer.h"
#include "emogene/render/condition_window.h"
#include "emogene/render/subject_model.h"
#include "emogene/video/video.h"

namespace fs = std::filesystem;

namespace emogene::pipeline {

struct Models::Impl {
  std::unique_ptr<render::SubjectModel> subject;
  std::unique_ptr<motion::A2MModel> a2m;
  std::unique_ptr<emotion::M2EModel> m2e;
  std::unique_ptr<features::FeatureExtractor> extractor;
  std::unique_ptr<render::FrameRenderer> renderer;
  pose::SubjectTake take;
  landmarks::Shape neutral_shape;
};

std::string model_path(const std::string& given, const char* file) {
  if (!given.empty()) return given;
  const std::string p = resource_dir("data") + "/models/" + file;
  if (!fs::exists(p)) throw bad_input(p, "the bundled demo model is missing (give the model's checkpoint explicitly)");
  return p;
}

namespace {

class Timer {
 public:
  explicit Timer(std::vector<std::pair<std::string, double>>& out) : out_(out) {}
  void lap(const std::string& name) {
    const auto now = std::chrono::steady_clock::now();
    out_.emplace_back(name, std::chrono::duration<double>(now - t_).count());
    t_ = now;
  }

 private:
  std::vector<std::pair<std::string, double>>& out_;
  std::chrono::steady_clock::time_point t_ = std::chrono::steady_clock::now();
};

void dump_seq(const std::string& dir, const char* name, const landmarks::Sequence& s) {
  write_npy(dir + "/" + name, Array::from_f32({s.frames(), 68, 3}, s.data.data()));
}

}  // namespace

Models::Models(const ModelOptions& opt) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.subject = std::make_unique<render::SubjectModel>(model_path(opt.subject, "subject.ckpt"), opt.device);
  m.a2m = std::make_unique<motion::A2MModel>(model_path(opt.a2m, "a2m.ckpt"), opt.device);
  m.m2e = std::make_unique<emotion::M2EModel>(model_path(opt.m2e, "m2e.ckpt"), opt.device);
  const features::FrontEndInfo& fe = m.a2m->front_end();
  features::ExtractorOptions xo;
  xo.kind = opt.extractor.empty() ? fe.extractor : opt.extractor;
  xo.weights = opt.weights.empty() && xo.kind == fe.extractor ? fe.weights : opt.weights;
  xo.layer = opt.layer == -2 ? fe.layer : opt.layer;
  xo.normalize = opt.normalize == "on" ? features::Normalize::On : opt.normalize == "off" ? features::Normalize::Off : features::Normalize::Auto;
  xo.device = opt.device;
  m.extractor = features::make_extractor(xo);
  m.a2m->check_front_end(m.extractor->info());
  m.renderer = m.subject->renderer(opt.renderer);
  // The performer's material: the subject's take.
  const render::SubjectInfo& si = m.subject->info();
  const std::int64_t T = si.frames();
  pose::SubjectTake& t = m.take;
  t.fps = si.fps;
  const torch::Tensor poses = si.poses.contiguous(), lms = si.landmarks.contiguous();
  t.poses.assign(poses.data_ptr<float>(), poses.data_ptr<float>() + T * 16);
  t.landmarks.data.assign(lms.data_ptr<float>(), lms.data_ptr<float>() + T * 204);
  const torch::Tensor idle = si.idle.to(torch::kUInt8).contiguous(), split = si.split.to(torch::kUInt8).contiguous(),
                      clip = si.clip.to(torch::kInt).contiguous();
  t.idle.assign(idle.data_ptr<std::uint8_t>(), idle.data_ptr<std::uint8_t>() + T);
  t.clip.assign(clip.data_ptr<std::int32_t>(), clip.data_ptr<std::int32_t>() + T);
  t.in_database.resize(static_cast<std::size_t>(T));
  for (std::int64_t i = 0; i < T; ++i) t.in_database[static_cast<std::size_t>(i)] = split.data_ptr<std::uint8_t>()[i] == 0;
  const torch::Tensor ns = si.neutral_shape.to(torch::kFloat).contiguous();
  std::copy(ns.data_ptr<float>(), ns.data_ptr<float>() + 204, m.neutral_shape.data());
}

Models::~Models() = default;

RenderReport render(const Models& models, const RenderJob& job) {
  Models::Impl& m = models.impl();
  RenderReport rep;
  const auto t_start = std::chrono::steady_clock::now();
  Timer timer(rep.stages);
  check_input(job.fps > 0 && job.fps <= 120, "--fps", "must be in (0, 120]");
  const emotion::Spec spec = emotion::parse_spec(job.emotion);
  const render::SubjectInfo& si = m.subject->info();
  const double fps_s = si.fps;
  const int W = job.size > 0 ? job.size : si.width;
  const int H = job.size > 0 ? static_cast<int>(std::lround(static_cast<double>(job.size) * si.height / si.width)) : si.height;
  check_input(W % 2 == 0 && H % 2 == 0, "--size", "the frame size must be even (got " + std::to_string(W) + "x" + std::to_string(H) + ")");
  // Checks the size against the subject before any work.
  (void)m.subject->request(torch::zeros({68, 3}), torch::eye(4), -1, W, H);

  const audio::Waveform wave = audio::load_audio(job.audio);
  const double seconds = wave.duration();
  check_input(seconds > 0, job.audio, "the audio is empty");
  rep.audio_seconds = seconds;
  const std::int64_t Ts = landmarks::frame_count(seconds, fps_s), To = landmarks::frame_count(seconds, job.fps);
  const std::vector<float> mono = audio::to_mono(wave);
  if (!job.dump.empty()) fs::create_directories(job.dump);
  timer.lap("decode");

  // Neutral landmarks: from the audio, or given.
  landmarks::Sequence neutral;
  if (job.landmarks.empty()) {
    const std::vector<float> mono16 = audio::resample(mono, wave.sample_rate, audio::kModelRate);
    const features::Features f = m.extractor->extract(mono16);
    if (!job.dump.empty()) write_npy(job.dump + "/features.npy", Array::from_f32({f.frames, f.dim}, f.data.data()));
    timer.lap("features");
    neutral = m.a2m->predict(f, m.neutral_shape, fps_s, Ts, job.temperature, job.seed);
    timer.lap("audio-to-motion");
  } else {
    const Array a = read_npy(job.landmarks);
    check_input(a.shape.size() == 3 && a.shape[1] == 68 && a.shape[2] == 3 && a.shape[0] > 0, job.landmarks,
                "landmarks must be [T, 68, 3] absolute canonical landmarks");
    landmarks::Sequence given{a.to_float()};
    for (float v : given.data) check_input(std::isfinite(v), job.landmarks, "landmarks must be finite");
    neutral = landmarks::resample(given, job.fps, fps_s, Ts);
    timer.lap("landmarks");
  }
  // Emotion.
  landmarks::Sequence emotional = neutral;
  const emotion::EmotionTrack track = emotion::make_track(spec, static_cast<int>(Ts), fps_s);
  if (job.landmarks.empty() || job.emotion_given) emotional = m.m2e->apply(neutral, m.neutral_shape, track, fps_s);
  timer.lap("motion-to-emotion");
  // Idle stretches, poses, blinks, the subject's range.
  std::vector<std::uint8_t> idle(static_cast<std::size_t>(Ts), 0);
  if (job.idle) idle = audio::idle_mask(audio::detect_speech(mono, wave.sample_rate), Ts, fps_s);
  pose::PerformerOptions po;
  po.idle = job.idle;
  po.seed = job.seed;
  const pose::Performance perf = pose::perform(emotional, neutral, m.neutral_shape, idle, m.take, po);
  for (auto v : perf.idle) rep.idle_frames += v;
  rep.database_distance = perf.database_distance;
  rep.database_spread = perf.database_spread;
  rep.far_from_database = perf.far_from_database;
  if (perf.far_from_database)
    spdlog::warn("{}: the requested emotion lies far outside what the subject's video showed (landmarks {:.3f} IOD from the "
                 "nearest of its frames, {:.1f}x the video's own spacing); expect artefacts",
                 job.audio, perf.database_distance, perf.database_distance / std::max(1e-9, perf.database_spread));
  const std::vector<float> poses_out = landmarks::resample_poses(perf.poses, fps_s, job.fps, To);
  timer.lap("performer");
  if (!job.dump.empty()) {
    dump_seq(job.dump, "landmarks_neutral.npy", landmarks::resample(neutral, fps_s, job.fps, To));
    dump_seq(job.dump, "landmarks_emotional.npy", landmarks::resample(emotional, fps_s, job.fps, To));
    const landmarks::Sequence fin = landmarks::resample(perf.landmarks, fps_s, job.fps, To);
    dump_seq(job.dump, "landmarks_final.npy", fin);
    write_npy(job.dump + "/poses.npy", Array::from_f32({To, 4, 4}, poses_out.data()));
    std::vector<float> idle_f(perf.idle.begin(), perf.idle.end());
    const std::vector<float> idle_o = landmarks::resample_linear(idle_f, 1, fps_s, job.fps, To);
    std::vector<std::uint8_t> idle_u(static_cast<std::size_t>(To));
    for (std::int64_t i = 0; i < To; ++i) idle_u[static_cast<std::size_t>(i)] = idle_o[static_cast<std::size_t>(i)] >= 0.5f;
    write_npy(job.dump + "/idle.npy", Array::from_u8({To}, idle_u.data()));
    const std::vector<float> blink = landmarks::resample_linear(perf.blink, 1, fps_s, job.fps, To);
    write_npy(job.dump + "/blink.npy", Array::from_f32({To}, blink.data()));
    const std::vector<float> emo = landmarks::resample_linear(track.weights, emotion::kNumEmotions, fps_s, job.fps, To);
    write_npy(job.dump + "/emotion.npy", Array::from_f32({To, emotion::kNumEmotions}, emo.data()));
  }

  // Frames, streamed to the encoder.
  video::WriterOptions wo;
  wo.width = W;
  wo.height = H;
  wo.fps = job.fps;
  wo.encoder_threads = job.encoder_threads;
  video::VideoWriter writer(job.out, wo, &wave);
  const std::int64_t Wc = m.subject->network()->cfg.condition.window;
  const render::FrameRequest base = m.subject->request(torch::zeros({68, 3}), torch::eye(4), -1, W, H);
  Progress progress("render", To, "frames");
  double t_nerf = 0, t_enc = 0;
  torch::Tensor window = torch::empty({Wc, 68, 3}, torch::kFloat);
  for (std::int64_t i = 0; i < To; ++i) {
    throw_if_interrupted("render " + job.out);
    const auto a = std::chrono::steady_clock::now();
    const double t = (static_cast<double>(i) + 0.5) / job.fps;
    render::condition_window_at(perf.landmarks.data.data(), perf.landmarks.frames(), fps_s, t, Wc, window.data_ptr<float>());
    render::FrameRequest q = base;
    q.landmarks = window;
    q.pose = torch::from_blob(const_cast<float*>(poses_out.data()) + i * 16, {4, 4}, torch::kFloat);
    const Image img = render::to_image(m.renderer->render(q).rgb);
    const auto b = std::chrono::steady_clock::now();
    writer.write(img.pixels.data());
    const auto c = std::chrono::steady_clock::now();
    t_nerf += std::chrono::duration<double>(b - a).count();
    t_enc += std::chrono::duration<double>(c - b).count();
    progress.update(i + 1);
  }
  const auto f0 = std::chrono::steady_clock::now();
  writer.finish();
  t_enc += std::chrono::duration<double>(std::chrono::steady_clock::now() - f0).count();
  progress.finish();
  rep.stages.emplace_back("nerf", t_nerf);
  rep.stages.emplace_back("encode", t_enc);
  rep.frames = To;
  rep.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  return rep;
}

}  // namespace emogene::pipeline
