// Runs the real emogene binary: exit codes, one-line errors, `info` on every kind of file.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "emogene/audio/audio.h"
#include "emogene/core/npy.h"
#include "emogene/core/safetensors.h"
#include "emogene/video/video.h"
#include "testutil.h"

using namespace emogene;

namespace {

using Result = test::CliResult;
Result run(const std::string& args) { return test::run_cli(EMOGENE_BIN, args); }
int lines(const std::string& s) { return test::count_lines(s); }

}  // namespace

TEST(Cli, VersionReportsLibrariesBlasAndThreads) {
  Result r = run("--threads 2 --version");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("emogene 0."), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("LibTorch 1."), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FFmpeg"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("BLAS: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("threads: 2"), std::string::npos) << r.out;
}

TEST(Cli, HelpAndUsageErrors) {
  Result h = run("info --help");
  EXPECT_EQ(h.code, 0);
  EXPECT_NE(h.out.find("--json"), std::string::npos);
  Result bad = run("frobnicate");
  EXPECT_EQ(bad.code, 2);
  EXPECT_EQ(lines(bad.err), 1) << bad.err;
  Result missing_arg = run("info");
  EXPECT_EQ(missing_arg.code, 2);
  EXPECT_EQ(lines(missing_arg.err), 1) << missing_arg.err;
}

TEST(Cli, InfoNpyAndSafetensors) {
  std::string d = test::temp_dir();
  std::vector<float> v(2 * 68 * 3, 0.25f);
  write_npy(d + "/lm.npy", Array::from_f32({2, 68, 3}, v.data()));
  Result r = run("info " + d + "/lm.npy");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("shape [2, 68, 3]"), std::string::npos) << r.out;
  Result j = run("info --json " + d + "/lm.npy");
  auto js = nlohmann::json::parse(j.out);
  EXPECT_EQ(js["dtype"], "<f4");
  EXPECT_EQ(js["shape"], nlohmann::json::array({2, 68, 3}));
  EXPECT_DOUBLE_EQ(js["mean"].get<double>(), 0.25);

  SafetensorsWriter w;
  w.add_f32("enc.weight", {68, 3}, v.data());
  w.set_metadata("emogene.kind", "a2m");
  w.write(d + "/m.ckpt");
  Result s = run("info --json " + d + "/m.ckpt");
  EXPECT_EQ(s.code, 0) << s.err;
  auto sj = nlohmann::json::parse(s.out);
  EXPECT_EQ(sj["kind"], "safetensors");
  EXPECT_EQ(sj["metadata"]["emogene.kind"], "a2m");
  EXPECT_EQ(sj["tensors"][0]["shape"], nlohmann::json::array({68, 3}));
}

TEST(Cli, InfoAudioAndVideo) {
  std::string d = test::temp_dir();
  audio::Waveform w;
  w.sample_rate = 22050;
  w.channels = 2;
  w.samples.resize(22050 * 2 * 3 / 2);
  for (std::size_t i = 0; i < w.samples.size(); ++i) w.samples[i] = 0.3f * std::sin(0.05f * static_cast<float>(i / 2));
  audio::write_wav(d + "/a.wav", w);
  Result a = run("info --json " + d + "/a.wav");
  ASSERT_EQ(a.code, 0) << a.err;
  auto aj = nlohmann::json::parse(a.out);
  EXPECT_EQ(aj["kind"], "audio");
  EXPECT_EQ(aj["streams"][0]["sample_rate"], 22050);
  EXPECT_EQ(aj["streams"][0]["channels"], 2);
  EXPECT_NEAR(aj["duration"].get<double>(), 1.5, 1e-3);

  video::WriterOptions o;
  o.width = 64;
  o.height = 48;
  {
    video::VideoWriter vw(d + "/v.mp4", o, &w);
    std::vector<std::uint8_t> frame(64 * 48 * 3, 128);
    for (int i = 0; i < 30; ++i) vw.write(frame.data());
    vw.finish();
  }
  Result v = run("info --json " + d + "/v.mp4");
  ASSERT_EQ(v.code, 0) << v.err;
  auto vj = nlohmann::json::parse(v.out);
  EXPECT_EQ(vj["kind"], "video");
  int seen = 0;
  for (const auto& s : vj["streams"]) {
    if (s["type"] == "video") {
      EXPECT_EQ(s["codec"], "h264");
      EXPECT_EQ(s["frames"], 30);
      EXPECT_EQ(s["width"], 64);
      ++seen;
    } else if (s["type"] == "audio") {
      EXPECT_EQ(s["codec"], "aac");
      ++seen;
    }
  }
  EXPECT_EQ(seen, 2);
  Result text = run("info " + d + "/v.mp4");
  EXPECT_NE(text.out.find("video: h264 64x48"), std::string::npos) << text.out;
}

TEST(Cli, BadFilesExit2WithOneLineNamingTheFile) {
  std::string d = test::temp_dir();
  test::write_bytes(d + "/empty.wav", {});
  test::write_bytes(d + "/random.mp4", test::random_bytes(5000, 3));
  test::write_bytes(d + "/random.npy", test::random_bytes(100, 4));
  test::write_bytes(d + "/random.safetensors", test::random_bytes(100, 5));
  for (const std::string f : {"missing.wav", "empty.wav", "random.mp4", "random.npy", "random.safetensors"}) {
    Result r = run("info " + d + "/" + f);
    EXPECT_EQ(r.code, 2) << f << ": " << r.err;
    EXPECT_EQ(lines(r.err), 1) << f << ": " << r.err;
    EXPECT_NE(r.err.find(f), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  Result dir = run("info " + d);  // a folder that is not a dataset
  EXPECT_EQ(dir.code, 2);
  EXPECT_NE(dir.err.find("not a dataset"), std::string::npos) << dir.err;
}

TEST(Cli, SynthThenInfoOnTheDataset) {
  std::string d = test::temp_dir();
  Result s = run("synth --out " + d + "/ds --seconds 4 --identities 3 --emotions neutral,sad --seed 2");
  ASSERT_EQ(s.code, 0) << s.err;
  Result j = run("info --json " + d + "/ds");
  ASSERT_EQ(j.code, 0) << j.err;
  auto js = nlohmann::json::parse(j.out);
  EXPECT_EQ(js["dataset_kind"], "corpus");
  EXPECT_EQ(js["clips"], 4);  // one group: neutral + sad at three intensities
  EXPECT_EQ(js["emotions"]["sad"], 3);
  Result again = run("synth --out " + d + "/ds --seconds 4 --identities 3");
  EXPECT_EQ(again.code, 2);
  EXPECT_NE(again.err.find("--force"), std::string::npos) << again.err;
  Result bad = run("synth --out " + d + "/x --emotions happy,glad");
  EXPECT_EQ(bad.code, 2);
  EXPECT_EQ(lines(bad.err), 1) << bad.err;
}
