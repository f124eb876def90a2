// HuBERT / wav2vec 2.0 against torchaudio's outputs on the committed fixtures (both architecture
// families, Hugging Face and torchaudio key naming, F16 and F32 weights, every hidden_states[K],
// input normalisation both ways), checkpoint detection, chunking, short audio and bad checkpoints.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include "emogene/core/error.h"
#include "emogene/core/npy.h"
#include "emogene/core/safetensors.h"
#include "emogene/features/ssl.h"
#include "testutil.h"

using namespace emogene;
using namespace emogene::features;
namespace fs = std::filesystem;

namespace {

const std::string kFixtures = EMOGENE_FEATURE_FIXTURES;

std::vector<float> fixture_audio() { return read_npy(kFixtures + "/audio.npy").to_float(); }

// Row `index` of an [N, T, D] array (or the whole [T, D] array when index < 0) as Features.
Features expected(const std::string& file, int index = -1) {
  Array a = read_npy(kFixtures + "/" + file);
  std::vector<float> v = a.to_float();
  Features f;
  const std::size_t off = index < 0 ? 0 : 1;
  f.frames = a.shape[off];
  f.dim = a.shape[off + 1];
  const std::size_t n = static_cast<std::size_t>(f.frames * f.dim);
  f.data.assign(v.begin() + static_cast<std::ptrdiff_t>(index < 0 ? 0 : index * n),
                v.begin() + static_cast<std::ptrdiff_t>((index < 0 ? 0 : index) * n + n));
  return f;
}

float max_abs_diff(const Features& a, const Features& b) {
  EXPECT_EQ(a.frames, b.frames);
  EXPECT_EQ(a.dim, b.dim);
  if (a.data.size() != b.data.size()) return 1e30f;
  float m = 0;
  for (std::size_t i = 0; i < a.data.size(); ++i) m = std::max(m, std::fabs(a.data[i] - b.data[i]));
  return m;
}

ExtractorOptions opts(const std::string& kind, const std::string& dir) {
  ExtractorOptions o;
  o.kind = kind;
  o.weights = kFixtures + "/" + dir + "/model.safetensors";
  return o;
}

std::string error_of(const std::function<void()>& f) { return test::bad_input_message(f); }

// Copies a fixture checkpoint with its tensors changed by `edit` (and its json files).
using TensorMap = std::map<std::string, std::pair<std::vector<std::int64_t>, std::vector<float>>>;

// Into a fresh subfolder of the test's temporary folder.
std::string edited_copy(const std::string& dir, const std::function<void(TensorMap&)>& edit) {
  static int counter = 0;
  SafetensorsFile st(kFixtures + "/" + dir + "/model.safetensors");
  TensorMap t;
  for (const auto& n : st.names()) t[n] = {st.get(n).shape, st.get(n).to_float()};
  edit(t);
  const char* base = std::getenv("EMOGENE_TEST_TMP");
  std::string out = (fs::path(base ? base : fs::temp_directory_path().string()) /
                     ("edited-" + std::to_string(::getpid()) + "-" + std::to_string(counter++))).string();
  fs::remove_all(out);
  fs::create_directories(out);
  SafetensorsWriter w;
  for (auto& [n, v] : t) w.add_f32(n, v.first, v.second.data());
  w.write(out + "/model.safetensors");
  for (const char* js : {"config.json", "preprocessor_config.json"})
    if (fs::exists(kFixtures + "/" + dir + "/" + js)) fs::copy_file(kFixtures + "/" + dir + "/" + js, out + "/" + js);
  return out + "/model.safetensors";
}

struct Case {
  const char* kind;
  const char* dir;
  const char* prefix;  // fixture file prefix
};
const Case kCases[] = {{"hubert", "hubert_tiny", "hubert_tiny"},
                       {"hubert", "hubert_tiny_torchaudio", "hubert_tiny"},
                       {"wav2vec2", "wav2vec2_tiny", "wav2vec2_tiny"},
                       {"wav2vec2", "wav2vec2_tiny_torchaudio", "wav2vec2_tiny"}};

}  // namespace

TEST(Ssl, EveryFixtureAndLayerMatchesTorchaudio) {
  const std::vector<float> x = fixture_audio();
  for (const Case& c : kCases) {
    SslExtractor e(opts(c.kind, c.dir));
    const int L = static_cast<int>(e.config().layers);
    EXPECT_EQ(e.layer(), L);
    for (int k = 0; k <= L; ++k) {
      Features got = e.extract_layer(x.data(), static_cast<std::int64_t>(x.size()), k);
      const float d = max_abs_diff(got, expected(std::string(c.prefix) + "_expected.npy", k));
      EXPECT_LE(d, 1e-4f) << c.dir << " hidden_states[" << k << "]";
      std::printf("[ fixture  ] %-26s hidden_states[%d]: max abs diff %.2e\n", c.dir, k, d);
    }
    // The default is the last hidden state.
    EXPECT_LE(max_abs_diff(e.extract(x), expected(std::string(c.prefix) + "_expected.npy", L)), 1e-4f);
    const float dc = max_abs_diff(e.conv_features(x.data(), static_cast<std::int64_t>(x.size())),
                                  expected(std::string(c.prefix) + "_conv.npy"));
    EXPECT_LE(dc, 1e-4f) << c.dir << " conv features";
    std::printf("[ fixture  ] %-26s conv features: max abs diff %.2e\n", c.dir, dc);
  }
}

TEST(Ssl, LibTorchMatmulPathAgrees) {
  // The same fixtures through LibTorch's own matmul instead of oneDNN's sgemm.
  const std::vector<float> x = fixture_audio();
  std::printf("[ matmul   ] default path: %s\n", matmul_backend().c_str());
  force_torch_matmul(true);
  EXPECT_EQ(matmul_backend(), "LibTorch matmul");
  for (const Case& c : {kCases[0], kCases[2]}) {
    SslExtractor e(opts(c.kind, c.dir));
    const int L = static_cast<int>(e.config().layers);
    EXPECT_LE(max_abs_diff(e.extract(x), expected(std::string(c.prefix) + "_expected.npy", L)), 1e-4f) << c.dir;
  }
  force_torch_matmul(false);
}

TEST(Ssl, NormalizeOverride) {
  const std::vector<float> x = fixture_audio();
  for (const char* dir : {"hubert_tiny", "hubert_tiny_torchaudio"}) {
    ExtractorOptions o = opts("hubert", dir);
    EXPECT_FALSE(SslExtractor(o).normalize());  // base-like: off by default
    o.normalize = Normalize::On;
    SslExtractor e(o);
    EXPECT_TRUE(e.normalize());
    EXPECT_LE(max_abs_diff(e.extract(x), expected("hubert_tiny_expected_norm.npy")), 1e-4f) << dir;
  }
  for (const char* dir : {"wav2vec2_tiny", "wav2vec2_tiny_torchaudio"}) {
    ExtractorOptions o = opts("wav2vec2", dir);
    EXPECT_TRUE(SslExtractor(o).normalize());  // large-like: on (preprocessor_config.json / layer norm)
    o.normalize = Normalize::Off;
    SslExtractor e(o);
    EXPECT_LE(max_abs_diff(e.extract(x), expected("wav2vec2_tiny_expected_nonorm.npy")), 1e-4f) << dir;
  }
}

TEST(Ssl, DetectsArchitectureAndNaming) {
  SslConfig h = inspect_ssl_checkpoint(kFixtures + "/hubert_tiny/model.safetensors");
  EXPECT_EQ(h.family, "hubert");
  EXPECT_EQ(h.architecture, "HubertModel");
  EXPECT_EQ(h.naming, KeyNaming::HuggingFace);
  EXPECT_EQ(h.prefix, "");
  EXPECT_EQ(h.pos_form, PosConvForm::WeightNorm);
  EXPECT_EQ(h.conv_norm, ConvNorm::Group);
  EXPECT_FALSE(h.conv_bias);
  EXPECT_FALSE(h.pre_norm);
  EXPECT_EQ(h.hidden, 128);
  EXPECT_EQ(h.heads, 2);
  EXPECT_EQ(h.layers, 2);
  EXPECT_EQ(h.pos_kernel, 15);
  EXPECT_EQ(h.pos_groups, 16);
  EXPECT_EQ(h.receptive_field(), 400);
  EXPECT_EQ(h.hop(), 320);

  // torchaudio naming, no config.json: everything from the keys (heads: 64-wide).
  SslConfig ht = inspect_ssl_checkpoint(kFixtures + "/hubert_tiny_torchaudio/model.safetensors");
  EXPECT_EQ(ht.naming, KeyNaming::Torchaudio);
  EXPECT_FALSE(ht.has_config_json);
  EXPECT_EQ(ht.family, "");
  EXPECT_EQ(ht.heads, 2);
  EXPECT_EQ(ht.conv_norm, ConvNorm::Group);
  EXPECT_FALSE(ht.pre_norm);
  EXPECT_FALSE(ht.normalize);

  SslConfig w = inspect_ssl_checkpoint(kFixtures + "/wav2vec2_tiny/model.safetensors");
  EXPECT_EQ(w.family, "wav2vec2");
  EXPECT_EQ(w.architecture, "Wav2Vec2ForCTC");
  EXPECT_EQ(w.prefix, "wav2vec2.");
  EXPECT_EQ(w.pos_form, PosConvForm::Parametrizations);
  EXPECT_EQ(w.conv_norm, ConvNorm::Layer);
  EXPECT_TRUE(w.conv_bias);
  EXPECT_TRUE(w.pre_norm);
  EXPECT_TRUE(w.normalize);
  EXPECT_EQ(w.normalize_source, "preprocessor_config.json");
  EXPECT_EQ(w.heads, 4);
  EXPECT_EQ(w.pos_kernel, 8);
  const auto& ig = w.ignored;
  EXPECT_NE(std::find(ig.begin(), ig.end(), "lm_head.weight"), ig.end());
  EXPECT_NE(std::find(ig.begin(), ig.end(), "wav2vec2.masked_spec_embed"), ig.end());

  SslConfig wt = inspect_ssl_checkpoint(kFixtures + "/wav2vec2_tiny_torchaudio/model.safetensors");
  EXPECT_EQ(wt.naming, KeyNaming::Torchaudio);
  EXPECT_TRUE(wt.pre_norm);     // layer-norm feature encoder: stable layer norm
  EXPECT_TRUE(wt.normalize);    // and normalised input
  EXPECT_NE(std::find(wt.ignored.begin(), wt.ignored.end(), "aux.weight"), wt.ignored.end());
}

TEST(Ssl, PlainPositionalWeightAndParametrizationsAgree) {
  // A checkpoint whose weight norm was removed (plain `weight`) gives the same features.
  const std::vector<float> x = fixture_audio();
  std::string path = edited_copy("hubert_tiny", [](auto& t) {
    const std::string p = "encoder.pos_conv_embed.conv.";
    auto g = t.at(p + "weight_g"), v = t.at(p + "weight_v");
    const auto& s = v.first;  // [H, H/G, K]
    std::vector<float> wv(v.second.size());
    for (std::int64_t k = 0; k < s[2]; ++k) {
      double norm = 0;
      for (std::int64_t o = 0; o < s[0] * s[1]; ++o) norm += double(v.second[o * s[2] + k]) * v.second[o * s[2] + k];
      for (std::int64_t o = 0; o < s[0] * s[1]; ++o)
        wv[o * s[2] + k] = static_cast<float>(g.second[k] * v.second[o * s[2] + k] / std::sqrt(norm));
    }
    t.erase(p + "weight_g");
    t.erase(p + "weight_v");
    t[p + "weight"] = {s, wv};
  });
  SslExtractor e(opts("hubert", "hubert_tiny"));
  ExtractorOptions o = opts("hubert", "hubert_tiny");
  o.weights = path;
  SslExtractor plain(o);
  EXPECT_EQ(plain.config().pos_form, PosConvForm::Plain);
  EXPECT_LE(max_abs_diff(plain.extract(x), e.extract(x)), 1e-5f);
}

TEST(Ssl, ConvEncoderChunkedEqualsWhole) {
  // 3 s of the fixture signal (tiled), pieces of 7 frames against one pass.
  std::vector<float> x = fixture_audio();
  std::vector<float> y;
  while (y.size() < 48000) y.insert(y.end(), x.begin(), x.end());
  y.resize(48123);
  for (const Case& c : {kCases[0], kCases[2]}) {
    SslExtractor e(opts(c.kind, c.dir));
    Features whole = e.conv_features(y.data(), static_cast<std::int64_t>(y.size()), 100000);
    Features pieces = e.conv_features(y.data(), static_cast<std::int64_t>(y.size()), 7);
    EXPECT_EQ(whole.frames, frames_for_samples(48123));
    const float d = max_abs_diff(whole, pieces);
    EXPECT_LE(d, 1e-4f) << c.dir;
    std::printf("[ chunked  ] %s conv encoder, pieces of 7 frames vs whole: max abs diff %.2e\n", c.dir, d);
  }
}

TEST(Ssl, TransformerWindowsStayCloseToWholePass) {
  // 20 s; windows of 4 s with 1 s of context each side against one pass. The attention is global, so
  // windows change the result; the deviation is bounded (tiny random model, see README for full size).
  std::vector<float> x = fixture_audio();
  std::vector<float> y;
  while (y.size() < 320000) y.insert(y.end(), x.begin(), x.end());
  y.resize(320000);
  ExtractorOptions o = opts("hubert", "hubert_tiny");
  o.chunk_seconds = 0;
  SslExtractor whole(o);
  Features ref = whole.extract(y);
  o.chunk_seconds = 4;
  o.overlap_seconds = 1;
  SslExtractor win(o);
  Features got = win.extract(y);
  EXPECT_EQ(win.last_timings().windows, 5);
  double sum = 0, sum2 = 0;
  float worst = 0;
  for (std::size_t i = 0; i < ref.data.size(); ++i) {
    const double dd = std::fabs(got.data[i] - ref.data[i]);
    worst = std::max(worst, static_cast<float>(dd));
    sum += dd;
    sum2 += double(ref.data[i]) * ref.data[i];
  }
  const double mean = sum / ref.data.size(), rms = std::sqrt(sum2 / ref.data.size());
  std::printf("[ chunked  ] hubert_tiny 20 s, windows 4 s + 1 s context: max abs diff %.3g, mean %.3g (rms of features %.3g)\n",
              worst, mean, rms);
  EXPECT_LT(mean, 0.05 * rms);
  EXPECT_LT(worst, 1.0f);
  // Audio that fits one window runs in one pass: identical.
  o.chunk_seconds = 30;
  SslExtractor big(o);
  EXPECT_EQ(max_abs_diff(big.extract(y), ref), 0.0f);
}

TEST(Ssl, ShortAudioGivesTheRightFrameCount) {
  SslExtractor e(opts("wav2vec2", "wav2vec2_tiny"));
  const std::vector<float> x = fixture_audio();
  for (std::int64_t n : {0, 1, 399, 400, 719, 720, 1000}) {
    Features f = e.extract(x.data(), n);
    EXPECT_EQ(f.frames, frames_for_samples(n)) << n;
    EXPECT_EQ(f.dim, 64);
    EXPECT_EQ(f.data.size(), static_cast<std::size_t>(f.frames * 64));
    for (float v : f.data) ASSERT_TRUE(std::isfinite(v)) << n;
  }
  // Without input normalisation, a layer-norm conv encoder is local: one frame from 400 samples
  // equals the first frame of a longer input.
  ExtractorOptions o = opts("wav2vec2", "wav2vec2_tiny");
  o.normalize = Normalize::Off;
  SslExtractor local(o);
  Features one = local.conv_features(x.data(), 400);
  Features many = local.conv_features(x.data(), 4000);
  ASSERT_EQ(one.frames, 1);
  ASSERT_EQ(many.frames, 12);
  float d = 0;
  for (int i = 0; i < 24; ++i) d = std::max(d, std::fabs(one.at(0, i) - many.at(0, i)));
  EXPECT_LE(d, 1e-5f);
}

TEST(Ssl, BadCheckpoints) {
  const std::string good = kFixtures + "/hubert_tiny/model.safetensors";
  const std::string dir = test::temp_dir();
  // Truncated file.
  test::write_bytes(dir + "/trunc.safetensors", test::head_of_file(good, 100000));
  std::string m = error_of([&] { inspect_ssl_checkpoint(dir + "/trunc.safetensors"); });
  EXPECT_NE(m.find("trunc.safetensors"), std::string::npos) << m;
  // Not a safetensors file at all.
  test::write_bytes(dir + "/junk.safetensors", test::random_bytes(4096, 3));
  m = error_of([&] { inspect_ssl_checkpoint(dir + "/junk.safetensors"); });
  EXPECT_NE(m.find("junk.safetensors"), std::string::npos) << m;
  // A checkpoint of another model: names the missing key.
  {
    SafetensorsWriter w;
    std::vector<float> v(12, 0.5f);
    w.add_f32("enc.weight", {4, 3}, v.data());
    w.set_metadata("emogene.kind", "a2m");
    w.write(dir + "/a2m.ckpt");
  }
  m = error_of([&] { inspect_ssl_checkpoint(dir + "/a2m.ckpt"); });
  EXPECT_NE(m.find("feature_extractor.conv_layers.0.conv.weight' is missing"), std::string::npos) << m;
  EXPECT_NE(m.find("enc.weight"), std::string::npos) << m;
  // A mis-shaped tensor.
  std::string p = edited_copy("hubert_tiny", [](auto& t) {
    auto& e = t.at("encoder.layers.1.feed_forward.output_dense.weight");
    e.first = {64, 256};
    e.second.resize(64 * 256, 0.0f);
  });
  m = error_of([&] { inspect_ssl_checkpoint(p); });
  EXPECT_NE(m.find("encoder.layers.1.feed_forward.output_dense.weight' has shape [64, 256], expected [128, 128]"), std::string::npos) << m;
  // A missing tensor.
  p = edited_copy("wav2vec2_tiny", [](auto& t) { t.erase("wav2vec2.encoder.layers.2.final_layer_norm.bias"); });
  m = error_of([&] { inspect_ssl_checkpoint(p); });
  EXPECT_NE(m.find("'wav2vec2.encoder.layers.2.final_layer_norm.bias' is missing"), std::string::npos) << m;
  // An unexpected tensor (an adapter emogene cannot run).
  p = edited_copy("wav2vec2_tiny", [](auto& t) { t["wav2vec2.encoder.layers.0.adapter_layer.linear_1.weight"] = {{2, 2}, {1, 2, 3, 4}}; });
  m = error_of([&] { inspect_ssl_checkpoint(p); });
  EXPECT_NE(m.find("unexpected tensor 'wav2vec2.encoder.layers.0.adapter_layer.linear_1.weight'"), std::string::npos) << m;
  // Another model family than asked for.
  m = error_of([&] { SslExtractor e(opts("hubert", "wav2vec2_tiny")); });
  EXPECT_NE(m.find("use --extractor wav2vec2"), std::string::npos) << m;
  // config.json that disagrees with the weights, or names another model type.
  p = edited_copy("hubert_tiny", [](auto&) {});
  {
    std::ifstream in(fs::path(p).parent_path() / "config.json");
    std::string js((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    test::write_text((fs::path(p).parent_path() / "config.json").string(),
                     js.replace(js.find("\"hidden_size\": 128"), 18, "\"hidden_size\": 256"));
  }
  m = error_of([&] { inspect_ssl_checkpoint(p); });
  EXPECT_NE(m.find("hidden_size"), std::string::npos) << m;
  test::write_text((fs::path(p).parent_path() / "config.json").string(), "{\"model_type\": \"wavlm\"}");
  m = error_of([&] { inspect_ssl_checkpoint(p); });
  EXPECT_NE(m.find("wavlm"), std::string::npos) << m;
  // Layer out of range, missing weights.
  ExtractorOptions o = opts("hubert", "hubert_tiny");
  o.layer = 3;
  m = error_of([&] { SslExtractor e(o); });
  EXPECT_NE(m.find("--layer"), std::string::npos) << m;
  o.layer = -1;
  o.weights = dir + "/nope.safetensors";
  m = error_of([&] { SslExtractor e(o); });
  EXPECT_NE(m.find("nope.safetensors"), std::string::npos) << m;
  o.weights.clear();
  m = error_of([&] { make_extractor(o); });
  EXPECT_NE(m.find("--weights"), std::string::npos) << m;
}

TEST(Ssl, RandomWeightsPresetRuns) {
  SslConfig c = ssl_preset("hubert_base");
  EXPECT_EQ(c.hidden, 768);
  EXPECT_EQ(c.receptive_field(), 400);
  EXPECT_THROW(ssl_preset("nope"), Error);
  // A small variant of the preset so the test stays fast.
  c.hidden = 64;
  c.heads = 1;
  c.ffn = 64;
  c.layers = 1;
  c.pos_kernel = 4;
  c.pos_groups = 4;
  for (auto& l : c.conv) l.channels = 16;
  ExtractorOptions o;
  o.kind = "hubert";
  SslExtractor e(c, 1, o);
  std::vector<float> x(8000, 0.0f);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::sin(0.01 * i));
  Features f = e.extract(x);
  EXPECT_EQ(f.frames, 24);
  EXPECT_EQ(f.dim, 64);
  for (float v : f.data) ASSERT_TRUE(std::isfinite(v));
}
