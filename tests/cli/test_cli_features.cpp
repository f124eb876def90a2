// Runs the real emogene binary: `features` (mel on a generated WAV, HuBERT on the tiny fixture) and
// its bad inputs (exit 2, one line naming the file or option); `bench` needs a target.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "emogene/audio/audio.h"
#include "emogene/core/npy.h"
#include "testutil.h"

using namespace emogene;

namespace {

using Result = test::CliResult;
Result run(const std::string& args) { return test::run_cli(EMOGENE_BIN, args); }
int lines(const std::string& s) { return test::count_lines(s); }

void expect_bad(const Result& r, const std::string& mention) {
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find(mention), std::string::npos) << r.err;
}

std::string write_tone_wav(const std::string& dir, double seconds, int rate = 22050) {
  audio::Waveform w;
  w.sample_rate = rate;
  w.channels = 1;
  w.samples.resize(static_cast<std::size_t>(seconds * rate));
  for (std::size_t i = 0; i < w.samples.size(); ++i)
    w.samples[i] = 0.3f * static_cast<float>(std::sin(2 * M_PI * 440.0 * i / rate));
  std::string path = dir + "/tone.wav";
  audio::write_wav(path, w);
  return path;
}

}  // namespace

TEST(CliFeatures, MelOnAGeneratedWav) {
  std::string d = test::temp_dir();
  std::string wav = write_tone_wav(d, 1.5);
  Result r = run("-q features --audio " + wav + " -o " + d + "/mel.npy");
  ASSERT_EQ(r.code, 0) << r.err;
  Array a = read_npy(d + "/mel.npy");
  ASSERT_EQ(a.shape.size(), 2u);
  EXPECT_EQ(a.shape[0], 74);  // 24000 samples at 16 kHz: (24000 - 400) / 320 + 1
  EXPECT_EQ(a.shape[1], 80);
  for (float v : a.to_float()) ASSERT_TRUE(std::isfinite(v));
  Result h = run("features --help");
  EXPECT_EQ(h.code, 0);
  EXPECT_NE(h.out.find("--layer"), std::string::npos);
  EXPECT_NE(h.out.find("--normalize"), std::string::npos);
}

TEST(CliFeatures, HubertOnTheTinyFixture) {
  std::string d = test::temp_dir();
  std::string wav = write_tone_wav(d, 1.0, 16000);
  const std::string w = std::string(EMOGENE_FEATURE_FIXTURES) + "/hubert_tiny/model.safetensors";
  Result r = run("-q features --audio " + wav + " --extractor hubert --weights " + w + " --layer 1 -o " + d + "/h.npy");
  ASSERT_EQ(r.code, 0) << r.err;
  Array a = read_npy(d + "/h.npy");
  EXPECT_EQ(a.shape, (std::vector<std::int64_t>{49, 128}));
  Result n = run("-q features --audio " + wav + " --extractor hubert --weights " + w +
                 " --normalize on --chunk 0.5 --overlap 0.2 -o " + d + "/h2.npy");
  ASSERT_EQ(n.code, 0) << n.err;
  EXPECT_EQ(read_npy(d + "/h2.npy").shape, (std::vector<std::int64_t>{49, 128}));
}

TEST(CliFeatures, BadInputsExit2WithOneLine) {
  std::string d = test::temp_dir();
  std::string wav = write_tone_wav(d, 1.0);
  const std::string fx = EMOGENE_FEATURE_FIXTURES;
  expect_bad(run("features --audio " + d + "/missing.wav -o " + d + "/x.npy"), "missing.wav");
  test::write_bytes(d + "/junk.wav", test::random_bytes(3000, 5));
  expect_bad(run("features --audio " + d + "/junk.wav -o " + d + "/x.npy"), "junk.wav");
  // Shorter than one frame (25 ms).
  std::string tiny = d + "/tiny";
  std::filesystem::create_directories(tiny);
  expect_bad(run("features --audio " + write_tone_wav(tiny, 0.01) + " -o " + d + "/x.npy"), "too short");
  expect_bad(run("features --audio " + wav + " --extractor hubert -o " + d + "/x.npy"), "--weights");
  expect_bad(run("features --audio " + wav + " --weights " + fx + "/hubert_tiny/model.safetensors -o " + d + "/x.npy"), "--weights");
  expect_bad(run("features --audio " + wav + " --extractor hubert --weights " + d + "/nope.safetensors -o " + d + "/x.npy"),
             "nope.safetensors");
  test::write_bytes(d + "/trunc.safetensors", test::head_of_file(fx + "/hubert_tiny/model.safetensors", 5000));
  expect_bad(run("features --audio " + wav + " --extractor hubert --weights " + d + "/trunc.safetensors -o " + d + "/x.npy"),
             "trunc.safetensors");
  expect_bad(run("features --audio " + wav + " --extractor hubert --weights " + fx + "/wav2vec2_tiny/model.safetensors -o " + d +
                 "/x.npy"),
             "use --extractor wav2vec2");
  expect_bad(run("features --audio " + wav + " --extractor hubert --weights " + fx + "/hubert_tiny/model.safetensors --layer 7 -o " +
                 d + "/x.npy"),
             "--layer");
  expect_bad(run("features --audio " + wav + " --extractor whisper -o " + d + "/x.npy"), "--extractor");
  expect_bad(run("features --audio " + wav + " --normalize maybe -o " + d + "/x.npy"), "--normalize");
  expect_bad(run("features --audio " + wav), "--out");
  EXPECT_FALSE(std::filesystem::exists(d + "/x.npy"));
  expect_bad(run("bench"), "bench");
}
