// The whole pipeline through the binary on small data (seconds): synth a tiny subject, train its
// NeRF for a few steps, render speech with a pause to an MP4 with the bundled a2m and m2e models;
// batch over a folder with a corrupt file, reruns, shards; bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <csignal>
#include <sys/wait.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include "emogene/audio/audio.h"
#include "emogene/core/npy.h"
#include "emogene/core/safetensors.h"
#include "emogene/video/video.h"
#include "testutil.h"

namespace fs = std::filesystem;
using emogene::test::run_cli;

namespace {

const std::string kBin = EMOGENE_BIN;
std::string home() { return std::getenv("EMOGENE_HOME") ? std::getenv("EMOGENE_HOME") : "."; }

struct World {
  std::string dir, subject, speech;  // speech: 1.2 s of speech, 1.0 s of silence, 0.8 s of speech
  std::string short_speech;          // 0.6 s of it, for the batch
  double seconds = 0;
};

// Built once per test process (ctest runs each test in its own process, in parallel), in a folder
// of the running test's own.
const World& world() {
  static World w = [] {
    World x;
    x.dir = emogene::test::temp_dir() + "_world";
    fs::remove_all(x.dir);
    fs::create_directories(x.dir);
    auto r = run_cli(kBin, "--threads 2 -q synth --kind subject --seconds 6 --size 96 --seed 4 -o " + x.dir + "/subj");
    EXPECT_EQ(r.code, 0) << r.err;
    r = run_cli(kBin, "--threads 2 -q train nerf --subject " + x.dir + "/subj -o " + x.dir +
                          "/s.ckpt --config " + home() + "/configs/nerf/small.json --steps 12 --set data.rays=512 --set data.frames=2");
    EXPECT_EQ(r.code, 0) << r.err;
    x.subject = x.dir + "/s.ckpt";
    // Speech from the synthetic take, with a silent second in the middle.
    std::string clip;
    for (const auto& e : fs::directory_iterator(x.dir + "/subj/clips")) clip = std::min(clip.empty() ? e.path().string() : clip, e.path().string());
    const emogene::audio::Waveform a = emogene::audio::load_audio(clip + "/audio.wav");
    emogene::audio::Waveform s;
    s.sample_rate = a.sample_rate;
    s.channels = 1;
    const std::vector<float> mono = emogene::audio::to_mono(a);
    const auto take = [&](double from, double len) {
      const auto i0 = static_cast<std::size_t>(from * a.sample_rate), n = static_cast<std::size_t>(len * a.sample_rate);
      s.samples.insert(s.samples.end(), mono.begin() + static_cast<std::ptrdiff_t>(i0), mono.begin() + static_cast<std::ptrdiff_t>(i0 + n));
    };
    take(0.3, 1.2);
    s.samples.insert(s.samples.end(), static_cast<std::size_t>(a.sample_rate), 0.f);
    take(1.5, 0.8);
    x.speech = x.dir + "/speech.wav";
    emogene::audio::write_wav(x.speech, s);
    x.seconds = s.duration();
    emogene::audio::Waveform shrt = s;
    shrt.samples.resize(static_cast<std::size_t>(0.6 * s.sample_rate));
    x.short_speech = x.dir + "/short.wav";
    emogene::audio::write_wav(x.short_speech, shrt);
    return x;
  }();
  return w;
}

std::string common(const World& w) { return "--subject " + w.subject + " --size 64 "; }
std::string small(const World& w) { return "--subject " + w.subject + " --size 64 "; }

}  // namespace

TEST(CliRender, SpeechWithAPauseToAnMp4) {
  const World& w = world();
  const std::string tmp = emogene::test::temp_dir(), out = tmp + "/out.mp4", dump = tmp + "/dump";
  const auto r = run_cli(kBin, "--threads 2 render --audio " + w.speech + " --emotion happy@0.8 " + common(w) + "--seed 3 -o " + out +
                                   " --dump " + dump);
  ASSERT_EQ(r.code, 0) << r.err;
  const emogene::video::MediaInfo info = emogene::video::probe_media(out);
  const double fps = 25;
  const auto frames = static_cast<std::int64_t>(std::ceil(w.seconds * fps - 1e-9));
  bool video = false, audio = false;
  for (const auto& s : info.streams) {
    if (s.type == "video") {
      video = true;
      EXPECT_EQ(s.codec, "h264");
      EXPECT_EQ(s.width, 64);
      EXPECT_EQ(s.frames, frames);
    }
    if (s.type == "audio") {
      audio = true;
      EXPECT_EQ(s.codec, "aac");
    }
  }
  EXPECT_TRUE(video && audio);
  EXPECT_NEAR(info.duration, w.seconds, 1.0 / fps + 0.03);
  // Every intermediate, at the output rate.
  for (const char* n : {"features.npy", "landmarks_neutral.npy", "landmarks_emotional.npy", "landmarks_final.npy", "poses.npy",
                        "idle.npy", "blink.npy", "emotion.npy"})
    EXPECT_TRUE(fs::exists(dump + "/" + n)) << n;
  const emogene::Array lm = emogene::read_npy(dump + "/landmarks_final.npy");
  EXPECT_EQ(lm.shape, (std::vector<std::int64_t>{frames, 68, 3}));
  EXPECT_EQ(emogene::read_npy(dump + "/poses.npy").shape, (std::vector<std::int64_t>{frames, 4, 4}));
  // The silent second is idle, the speech around it is not.
  const emogene::Array idle = emogene::read_npy(dump + "/idle.npy");
  const std::uint8_t* id = idle.data<std::uint8_t>();
  int idle_mid = 0, idle_speech = 0;
  for (std::int64_t i = 0; i < frames; ++i) {
    const double t = (static_cast<double>(i) + 0.5) / fps;
    if (t > 1.45 && t < 2.0) idle_mid += id[i];
    if (t > 0.3 && t < 1.0) idle_speech += id[i];
  }
  EXPECT_GE(idle_mid, 12);
  EXPECT_LE(idle_speech, 3);
  // happy@0.8: the emotion track says so.
  const emogene::Array emo = emogene::read_npy(dump + "/emotion.npy");
  EXPECT_NEAR(emo.data<float>()[5], 1.0f, 1e-5);  // happy is index 5 (DESIGN §4)

  // The dump's head motion: the pause moves less than the speech (EmoGene Table II figures).
  const auto ev = run_cli(kBin, "eval --json --pred " + dump);
  ASSERT_EQ(ev.code, 0) << ev.err;
  const nlohmann::json mj = nlohmann::json::parse(ev.out);
  EXPECT_GT(mj["idle"]["steps"].get<int>(), 10);
  EXPECT_LT(mj["idle"]["rotation_velocity_deg"][0].get<double>(), mj["speaking"]["rotation_velocity_deg"][0].get<double>());
  // The same inputs and seed give the same bytes.
  const std::string out2 = tmp + "/out2.mp4";
  ASSERT_EQ(run_cli(kBin, "--threads 2 -q render --audio " + w.speech + " --emotion happy@0.8 " + common(w) + "--seed 3 -o " + out2).code, 0);
  EXPECT_EQ(emogene::test::read_text(out), emogene::test::read_text(out2));
  // Starting from given landmarks works too.
  const std::string out3 = tmp + "/out3.mp4";
  const auto r3 = run_cli(kBin, "--threads 2 -q render --audio " + w.speech + " --landmarks " + dump + "/landmarks_final.npy " + common(w) + "-o " + out3);
  EXPECT_EQ(r3.code, 0) << r3.err;
  EXPECT_TRUE(fs::exists(out3));
}

TEST(CliRender, BadInputIsOneLineAndWritesNothing) {
  const World& w = world();
  const std::string dir = emogene::test::temp_dir();
  emogene::test::write_bytes(dir + "/corrupt.wav", emogene::test::random_bytes(3000, 5));
  emogene::audio::Waveform empty;
  empty.sample_rate = 16000;
  empty.channels = 1;
  emogene::audio::write_wav(dir + "/empty.wav", empty);
  emogene::test::write_text(dir + "/lm.npy", "not an array");
  const std::vector<float> wrong(10 * 67 * 3, 0.f);
  emogene::write_npy(dir + "/lm67.npy", emogene::Array::from_f32({10, 67, 3}, wrong.data()));
  const std::string out = dir + "/o.mp4";
  struct Case {
    std::string args, names;
  };
  const std::vector<Case> cases = {
      {"--audio " + dir + "/missing.wav " + common(w), "missing.wav"},
      {"--audio " + dir + "/corrupt.wav " + common(w), "corrupt.wav"},
      {"--audio " + dir + "/empty.wav " + common(w), "empty.wav"},
      {"--audio " + w.speech + " --emotion hapy " + common(w), "hapy"},
      {"--audio " + w.speech + " --subject " + home() + "/data/models/a2m.ckpt", "a2m"},
      {"--audio " + w.speech + " --subject " + w.subject + " --size 97", "--size"},
      {"--audio " + w.speech + " " + common(w) + "--landmarks " + dir + "/lm.npy", "lm.npy"},
      {"--audio " + w.speech + " " + common(w) + "--landmarks " + dir + "/lm67.npy", "[T, 68, 3]"},
  };
  for (const Case& c : cases) {
    const auto r = run_cli(kBin, "render " + c.args + " -o " + out);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.err;
    EXPECT_EQ(emogene::test::count_lines(r.err), 1) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.names), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_FALSE(fs::exists(out)) << c.args;
  }
  EXPECT_TRUE(fs::is_empty(dir) || !fs::exists(out));
}

TEST(CliBatch, FolderWithACorruptFileRerunAndShards) {
  const World& w = world();
  const std::string dir = emogene::test::temp_dir(), in = dir + "/in", out = dir + "/out";
  fs::create_directories(in + "/sub");
  fs::copy_file(w.short_speech, in + "/a.wav");
  fs::copy_file(w.short_speech, in + "/sub/b.wav");
  emogene::test::write_bytes(in + "/sub/bad.wav", emogene::test::random_bytes(2000, 9));
  auto r = run_cli(kBin, "--threads 2 -q batch --audio-dir " + in + " -o " + out + " --emotion sad " + small(w) + "--jobs 2");
  EXPECT_EQ(r.code, 1) << r.err;  // one file failed
  EXPECT_TRUE(fs::exists(out + "/a.mp4"));
  EXPECT_TRUE(fs::exists(out + "/sub/b.mp4"));
  EXPECT_FALSE(fs::exists(out + "/sub/bad.mp4"));
  nlohmann::json rep = nlohmann::json::parse(emogene::test::read_text(out + "/report.json"));
  EXPECT_EQ(rep["done"], 2);
  EXPECT_EQ(rep["failed"], 1);
  for (const auto& f : rep["files"])
    if (f["path"] == "sub/bad.wav") {
      EXPECT_EQ(f["status"], "failed");
      EXPECT_NE(f["reason"].get<std::string>().find("bad.wav"), std::string::npos);
    }
  // The same file renders to the same bytes alone and inside the batch (jobs 2).
  const std::string alone = dir + "/alone.mp4";
  ASSERT_EQ(run_cli(kBin, "--threads 2 -q render --audio " + in + "/a.wav --emotion sad " + small(w) + "-o " + alone).code, 0);
  EXPECT_EQ(emogene::test::read_text(alone), emogene::test::read_text(out + "/a.mp4"));
  // A rerun skips what is finished.
  fs::remove(in + "/sub/bad.wav");
  r = run_cli(kBin, "--threads 2 -q batch --audio-dir " + in + " -o " + out + " " + small(w));
  EXPECT_EQ(r.code, 0) << r.err;
  rep = nlohmann::json::parse(emogene::test::read_text(out + "/report.json"));
  EXPECT_EQ(rep["skipped"], 2);
  EXPECT_EQ(rep["done"], 0);
  // Shards cover every file exactly once.
  fs::copy_file(w.short_speech, in + "/c.wav");
  int rendered = 0;
  for (int s = 0; s < 3; ++s) {
    const std::string o = dir + "/shard" + std::to_string(s);
    r = run_cli(kBin, "--threads 2 -q batch --audio-dir " + in + " -o " + o + " --shard " + std::to_string(s) + "/3 " + small(w));
    EXPECT_EQ(r.code, 0) << r.err;
    for (const auto& e : fs::recursive_directory_iterator(o))
      if (e.path().extension() == ".mp4") ++rendered;
    EXPECT_TRUE(fs::exists(o + "/report-" + std::to_string(s) + "-of-3.json"));
  }
  EXPECT_EQ(rendered, 3);
  // A manifest picks files, emotions and seeds; bad shard text is one line, exit 2.
  emogene::test::write_text(dir + "/m.csv", "path,emotion,seed\n\"a.wav\",\"happy:0.6+surprised:0.4@0.8\",7\nc.wav,,\n");
  r = run_cli(kBin, "--threads 2 -q batch --audio-dir " + in + " -o " + dir + "/man --manifest " + dir + "/m.csv " + small(w));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir + "/man/a.mp4"));
  EXPECT_TRUE(fs::exists(dir + "/man/c.mp4"));
  EXPECT_FALSE(fs::exists(dir + "/man/sub/b.mp4"));
  r = run_cli(kBin, "batch --audio-dir " + in + " -o " + dir + "/x --shard 3/3 " + small(w));
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(emogene::test::count_lines(r.err), 1) << r.err;
}

// Killed (SIGKILL) while an MP4 is being encoded, then rerun: the folder only ever holds whole MP4s,
// the rerun finishes the rest and clears the killed run's temporary.
TEST(CliBatch, KilledDuringAnEncodeThenRerun) {
  const World& w = world();
  const std::string dir = emogene::test::temp_dir(), in = dir + "/in", out = dir + "/out";
  fs::create_directories(in);
  for (const char* n : {"a", "b", "c", "d"}) fs::copy_file(w.speech, in + "/" + n + ".wav");
  fs::create_directories(out);
  const std::string cmd = std::string(kBin) + " --threads 2 -q batch --audio-dir " + in + " -o " + out + " --emotion happy " +
                          small(w) + ">/dev/null 2>&1";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Wait for a temporary MP4 to appear (an encode under way), then kill.
  bool seen = false;
  for (int i = 0; i < 6000 && !seen; ++i) {
    for (const auto& e : fs::directory_iterator(out))
      if (e.path().filename().string().find(".mp4.tmp") != std::string::npos) seen = true;
    if (!seen) ::usleep(10000);
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(seen) << "no encode seen in 60 s";
  auto whole = [&](int expect_at_least) {
    int n = 0;
    for (const auto& e : fs::directory_iterator(out)) {
      if (e.path().extension() != ".mp4") continue;
      const emogene::video::MediaInfo m = emogene::video::probe_media(e.path().string());
      EXPECT_NEAR(m.duration, w.seconds, 0.1) << e.path();
      std::string codecs;
      for (const auto& st : m.streams) codecs += st.codec + " ";
      EXPECT_NE(codecs.find("h264"), std::string::npos) << e.path();
      EXPECT_NE(codecs.find("aac"), std::string::npos) << e.path();
      ++n;
    }
    EXPECT_GE(n, expect_at_least);
    return n;
  };
  const int before = whole(0);
  EXPECT_LT(before, 4);
  const auto r = run_cli(kBin, "--threads 2 -q batch --audio-dir " + in + " -o " + out + " --emotion happy " + small(w));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(whole(4), 4);
  for (const auto& e : fs::directory_iterator(out))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  const nlohmann::json rep = nlohmann::json::parse(emogene::test::read_text(out + "/report.json"));
  EXPECT_EQ(rep["skipped"].get<int>(), before);
  EXPECT_EQ(rep["done"].get<int>(), 4 - before);
}

TEST(CliTrainNerf, BadDatasetsAreOneLine) {
  const World& w = world();
  const std::string dir = emogene::test::temp_dir();
  // A subject dataset with a frame missing: the file is named.
  fs::copy(w.dir + "/subj", dir + "/holey", fs::copy_options::recursive);
  std::string frame;
  for (const auto& e : fs::recursive_directory_iterator(dir + "/holey/clips"))
    if (e.path().extension() == ".png" && e.path().parent_path().filename() == "frames") frame = e.path().string();
  ASSERT_FALSE(frame.empty());
  fs::remove(frame);
  auto r = run_cli(kBin, "train nerf --subject " + dir + "/holey -o " + dir + "/a.ckpt --config " + home() + "/configs/nerf/small.json --steps 2");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(emogene::test::count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find(fs::path(frame).filename().string()), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir + "/a.ckpt"));
  // A corpus is not a subject.
  ASSERT_EQ(run_cli(kBin, "-q synth --kind corpus --seconds 5 -o " + dir + "/corpus").code, 0);
  r = run_cli(kBin, "train nerf --subject " + dir + "/corpus -o " + dir + "/b.ckpt --config " + home() + "/configs/nerf/small.json --steps 2");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("corpus"), std::string::npos) << r.err;
  // eval of a nerf checkpoint against a corpus, and of another kind's checkpoint as a subject.
  r = run_cli(kBin, "eval --pred " + w.subject + " --ref " + dir + "/corpus");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(emogene::test::count_lines(r.err), 1) << r.err;
}

TEST(CliTrainNerf, InterruptedAndResumedEqualsUninterrupted) {
  // The same 40 steps, once straight through and once stopped by SIGINT after its first checkpoint
  // and resumed: every tensor of the two checkpoints is bit-identical (weights, latents, the
  // occupancy grid's bits), because the step's draws follow the step's seed and the optimiser and
  // the occupancy density are checkpointed.
  const World& w = world();
  const std::string dir = emogene::test::temp_dir();
  const std::string args = "--threads 2 -q train nerf --subject " + w.dir + "/subj --config " + home() +
                           "/configs/nerf/small.json --steps 40 --set data.rays=256 --set data.frames=2 --set train.checkpoint_every=8 ";
  auto r = run_cli(kBin, args + "-o " + dir + "/a.ckpt");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string b = dir + "/b.ckpt";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", ("exec " + std::string(kBin) + " " + args + "-o " + b + " >/dev/null 2>&1").c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  bool seen = false;
  for (int i = 0; i < 6000 && !seen; ++i) {
    seen = fs::exists(b + ".train");
    if (!seen) ::usleep(10000);
  }
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(seen) << "no checkpoint in 60 s";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << "the run was not interrupted";
  {
    const emogene::SafetensorsFile mid(b);  // the checkpoint the interruption left: short of 40 steps
    EXPECT_EQ(mid.meta("emogene.provenance").find("\"steps\":40"), std::string::npos) << mid.meta("emogene.provenance");
  }
  r = run_cli(kBin, args + "-o " + b + " --resume");
  ASSERT_EQ(r.code, 0) << r.err;
  emogene::SafetensorsFile fa(dir + "/a.ckpt"), fb(b);
  ASSERT_EQ(fa.names(), fb.names());
  for (const std::string& n : fa.names()) {
    const emogene::TensorView &ta = fa.get(n), &tb = fb.get(n);
    ASSERT_EQ(ta.nbytes, tb.nbytes) << n;
    EXPECT_TRUE(std::equal(ta.data, ta.data + ta.nbytes, tb.data)) << n << " differs after the resume";
  }
  EXPECT_NE(fb.meta("emogene.provenance").find("\"steps\":40"), std::string::npos);
}

