// emotion/m2e: the motion-to-emotion networks' invariants (shape, neutral and intensity 0 return
// the input, locality of the banded attention under cuts and perturbations) and the trainer on a
// tiny synthetic corpus (loss falls, checkpoint round-trips, figures, error messages).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "emogene/core/config.h"
#include "emogene/core/error.h"
#include "emogene/core/safetensors.h"
#include "emogene/core/tensor_io.h"
#include "emogene/dataset/dataset.h"
#include "emogene/emotion/m2e.h"
#include "emogene/emotion/m2e_io.h"
#include "emotion_corpus.h"
#include "testutil.h"

using namespace emogene;
using namespace emogene::emotion;
namespace fs = std::filesystem;

namespace {

M2EConfig tiny(const std::string& kind = "transformer") {
  M2EConfig c;
  c.kind = kind;
  c.hidden = 16;
  c.heads = 2;
  c.layers = 2;
  c.ff = 32;
  c.window = 4;
  c.dropout = 0.0;
  c.mlp_hidden = 32;
  c.mlp_embed = 4;
  return c;
}

// A model with a random (non-zero) output head, so that deltas are not trivially zero.
MotionToEmotion random_model(const M2EConfig& c) {
  torch::manual_seed(7);
  MotionToEmotion m(c);
  torch::NoGradGuard ng;
  for (auto& p : m->named_parameters())
    if (p.key().find("rel_bias") != std::string::npos || p.key().rfind("out.", 0) == 0 || p.key().rfind("fc3.", 0) == 0)
      p.value().normal_(0, 0.3);
  m->eval();
  return m;
}

struct Inputs {
  torch::Tensor disp, w, inten, mask;
};

Inputs random_inputs(std::int64_t T, std::uint64_t seed = 1) {
  torch::manual_seed(static_cast<std::uint64_t>(seed));
  Inputs in;
  in.disp = torch::randn({1, T, 204}) * 0.05;
  in.w = torch::zeros({1, T, 8});
  in.w.select(2, 5).fill_(0.7f);  // happy:0.7 + sad:0.3
  in.w.select(2, 6).fill_(0.3f);
  in.inten = torch::rand({1, T}) * 0.5 + 0.5;
  in.mask = torch::ones({1, T});
  return in;
}

torch::Tensor run(MotionToEmotion& m, const Inputs& in, std::int64_t a, std::int64_t len) {
  torch::NoGradGuard ng;
  return m->forward(in.disp.narrow(1, a, len), in.w.narrow(1, a, len), in.inten.narrow(1, a, len), in.mask.narrow(1, a, len));
}

double max_abs(const torch::Tensor& t) { return t.numel() ? t.abs().max().item<double>() : 0.0; }

std::string bad_input_of(const std::function<void()>& f) { return test::bad_input_message(f); }

// The column `name` of a loss CSV: every logged row.
std::vector<double> csv_column(const std::string& path, const std::string& name) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  std::vector<std::string> head;
  std::stringstream hs(line);
  for (std::string c; std::getline(hs, c, ',');) head.push_back(c);
  const auto col = static_cast<std::size_t>(std::find(head.begin(), head.end(), name) - head.begin());
  std::vector<double> out;
  while (std::getline(f, line)) {
    std::stringstream ls(line);
    std::string c;
    for (std::size_t k = 0; std::getline(ls, c, ','); ++k)
      if (k == col) out.push_back(std::stod(c));
  }
  return out;
}

}  // namespace

TEST(M2EConfig, ParsesAndRefuses) {
  M2EConfig c = M2EConfig::from_json({{"kind", "mlp"}, {"mlp_hidden", 64}}, "x.json");
  EXPECT_EQ(c.kind, "mlp");
  EXPECT_EQ(c.mlp_hidden, 64);
  EXPECT_EQ(c.receptive_field(), 0);
  EXPECT_EQ(M2EConfig::from_json(M2EConfig{}.to_json(), "x").to_json(), M2EConfig{}.to_json());
  EXPECT_EQ(M2EConfig{}.receptive_field(), 48);
  EXPECT_NE(bad_input_of([] { M2EConfig::from_json({{"kind", "lstm"}}, "x.json"); }).find("model.kind must be"), std::string::npos);
  EXPECT_NE(bad_input_of([] { M2EConfig::from_json({{"hiden", 3}}, "x.json"); }).find("unknown setting model.hiden"), std::string::npos);
  EXPECT_NE(bad_input_of([] { M2EConfig::from_json({{"hidden", 10}, {"heads", 4}}, "x.json"); }).find("multiple of model.heads"),
            std::string::npos);
  EXPECT_NE(bad_input_of([] { M2EConfig::from_json({{"condition", "frame"}}, "x.json"); }).find("model.condition must be"),
            std::string::npos);
  EXPECT_TRUE(M2EConfig{}.edges);
  EXPECT_EQ(M2EConfig{}.condition, "clip");
}

// The banded attention against a literal reading of its definition: for each query, the keys at
// offsets -W..W; a key outside the valid frames is the learnt outside frame (edges) or absent.
TEST(BandAttention, MatchesItsDefinitionWithAndWithoutOutsideFrames) {
  const std::int64_t B = 2, T = 11, D = 8, H = 2, W = 3, dh = D / H;
  for (bool edges : {true, false}) {
    SCOPED_TRACE(edges);
    torch::manual_seed(5);
    BandAttention att(D, H, W, edges);
    torch::NoGradGuard ng;
    att->rel_bias.normal_(0, 1);
    torch::Tensor x = torch::randn({B, T, D});
    torch::Tensor mask = torch::ones({B, T});
    mask[1].narrow(0, 7, 4).zero_();  // item 1: 7 valid frames, then padding
    torch::Tensor got = att->forward(x, mask);
    torch::Tensor qkv = att->qkv->forward(x);  // [B, T, 3D]
    torch::Tensor pkv = edges ? att->qkv->forward(att->pad.view({1, D}))[0] : torch::Tensor();
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t i = 0; i < T; ++i) {
        if (mask[b][i].item<float>() < 0.5f) continue;
        torch::Tensor o = torch::zeros({D});
        for (std::int64_t h = 0; h < H; ++h) {
          torch::Tensor q = qkv[b][i].narrow(0, h * dh, dh) / std::sqrt(static_cast<double>(dh));
          std::vector<torch::Tensor> logits, values;
          for (std::int64_t off = -W; off <= W; ++off) {
            const std::int64_t j = i + off;
            const bool inside = j >= 0 && j < T && mask[b][j].item<float>() > 0.5f;
            if (!inside && !edges) continue;
            torch::Tensor kk = inside ? qkv[b][j].narrow(0, D + h * dh, dh) : pkv.narrow(0, D + h * dh, dh);
            torch::Tensor vv = inside ? qkv[b][j].narrow(0, 2 * D + h * dh, dh) : pkv.narrow(0, 2 * D + h * dh, dh);
            logits.push_back((q * kk).sum() + att->rel_bias[h][off + W]);
            values.push_back(vv);
          }
          torch::Tensor p = torch::softmax(torch::stack(logits), 0);
          o.narrow(0, h * dh, dh).copy_((p.unsqueeze(1) * torch::stack(values)).sum(0));
        }
        torch::Tensor want = att->proj->forward(o.view({1, D}))[0];
        EXPECT_LT(max_abs(got[b][i] - want), 1e-5) << "item " << b << " frame " << i;
      }
    // A constant sequence: without outside frames every frame sees the same thing; with them the
    // first and last frames know where the sequence ends.
    torch::Tensor c = x[0][0].view({1, 1, D}).expand({1, T, D}).contiguous();
    torch::Tensor oc = att->forward(c, torch::ones({1, T}));
    const double edge_vs_middle = max_abs(oc[0][0] - oc[0][T / 2]) + max_abs(oc[0][T - 1] - oc[0][T / 2]);
    if (edges)
      EXPECT_GT(edge_vs_middle, 1e-3);
    else
      EXPECT_LT(edge_vs_middle, 1e-5);
  }
}

TEST(M2ENet, ShapeAndNeutralReturnsInput) {
  for (const char* kind : {"transformer", "mlp"}) {
    SCOPED_TRACE(kind);
    MotionToEmotion m = random_model(tiny(kind));
    Inputs in = random_inputs(40);
    torch::Tensor d = run(m, in, 0, 40);
    EXPECT_EQ(d.sizes(), (std::vector<std::int64_t>{1, 40, 204}));
    EXPECT_GT(max_abs(d), 1e-4);  // a random model does change the face
    // Intensity 0 (pure neutral): exactly zero displacement, whatever the weights.
    in.inten.narrow(1, 10, 5).zero_();
    torch::Tensor d0 = run(m, in, 0, 40);
    EXPECT_EQ(max_abs(d0.narrow(1, 10, 5)), 0.0);
    EXPECT_GT(max_abs(d0.narrow(1, 20, 5)), 1e-4);
    in.inten.zero_();
    EXPECT_EQ(max_abs(run(m, in, 0, 40)), 0.0);
    // A fresh (untrained) model is the identity map: its output heads start at zero.
    MotionToEmotion fresh(tiny(kind));
    fresh->eval();
    EXPECT_EQ(max_abs(run(fresh, random_inputs(12), 0, 12)), 0.0);
  }
}

TEST(M2ENet, IntensityScalesTheGate) {
  // Same weights, intensities x and 2x: the gate doubles (the conditioning also moves, so only
  // the direction of growth is fixed, not a factor).
  MotionToEmotion m = random_model(tiny("mlp"));
  Inputs in = random_inputs(16);
  in.inten.fill_(0.f);
  EXPECT_EQ(max_abs(run(m, in, 0, 16)), 0.0);
  in.inten.fill_(1e-3f);
  const double small = max_abs(run(m, in, 0, 16));
  in.inten.fill_(2e-3f);
  EXPECT_NEAR(max_abs(run(m, in, 0, 16)) / small, 2.0, 0.01);  // linear near 0
}

TEST(M2ENet, CuttingFarAwayChangesNothing) {
  // Receptive field: layers × window = 8 frames. Cut well beyond 2 × that from the compared frames.
  MotionToEmotion m = random_model(tiny());
  const std::int64_t R = m->cfg.receptive_field();
  ASSERT_EQ(R, 8);
  for (std::int64_t T : {120, 700}) {  // 700: several query chunks of the banded attention
    SCOPED_TRACE(T);
    Inputs in = random_inputs(T, static_cast<std::uint64_t>(T));
    torch::Tensor full = run(m, in, 0, T);
    // Cut the end: frames before cut − 2R agree.
    const std::int64_t cut = T / 2;
    torch::Tensor head = run(m, in, 0, cut);
    EXPECT_LT(max_abs(head.narrow(1, 0, cut - 2 * R) - full.narrow(1, 0, cut - 2 * R)), 1e-5);
    // Cut the start: frames after start + 2R agree.
    const std::int64_t start = T / 3;
    torch::Tensor tail = run(m, in, start, T - start);
    EXPECT_LT(max_abs(tail.narrow(1, 2 * R, T - start - 2 * R) - full.narrow(1, start + 2 * R, T - start - 2 * R)), 1e-5);
    // Near the cut the output may differ (it is not a per-frame model).
    EXPECT_GT(max_abs(tail.narrow(1, 0, 2) - full.narrow(1, start, 2)), 1e-7);
  }
}

TEST(M2ENet, PerturbationReachesExactlyTheReceptiveField) {
  MotionToEmotion m = random_model(tiny());
  const std::int64_t R = m->cfg.receptive_field(), T = 80, p = 40;
  Inputs in = random_inputs(T, 3);
  torch::Tensor a = run(m, in, 0, T);
  in.disp[0][p].add_(0.5);
  torch::Tensor b = run(m, in, 0, T);
  torch::Tensor diff = (a - b).abs().amax(-1)[0];  // [T]
  for (std::int64_t t = 0; t < T; ++t) {
    if (std::abs(t - p) > R) {
      EXPECT_LT(diff[t].item<double>(), 1e-6) << "frame " << t;
    }
  }
  EXPECT_GT(diff[p].item<double>(), 1e-5);
  EXPECT_GT(diff[p + 4].item<double>(), 1e-7);  // one window away: reached
}

TEST(M2ENet, PaddingIsIgnored) {
  // A padded batch item gives the same valid frames as the sequence alone.
  MotionToEmotion m = random_model(tiny());
  Inputs in = random_inputs(30, 9);
  torch::Tensor alone = run(m, in, 0, 30);
  Inputs pad;
  pad.disp = torch::cat({in.disp, torch::randn({1, 10, 204})}, 1);
  pad.w = torch::cat({in.w, torch::zeros({1, 10, 8})}, 1);
  pad.inten = torch::cat({in.inten, torch::ones({1, 10})}, 1);
  pad.mask = torch::cat({in.mask, torch::zeros({1, 10})}, 1);
  torch::Tensor padded = run(m, pad, 0, 40);
  EXPECT_LT(max_abs(padded.narrow(1, 0, 30) - alone), 1e-5);
  EXPECT_EQ(max_abs(padded.narrow(1, 30, 10)), 0.0);
}

class M2ETrain : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Not temp_dir() alone: outside a test it names a shared "no-test" folder.
    const fs::path d = fs::path(test::temp_dir()).parent_path() / ("M2ETrain_" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    dir_ = new std::string(d.string());
    corpus_ = new std::string(test::emotion_corpus());
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete corpus_;
  }
  static TrainM2EOptions options(const std::string& out, const std::string& kind = "transformer") {
    TrainM2EOptions o;
    o.data = *corpus_;
    o.out = out;
    o.config = load_config(std::string(getenv("EMOGENE_HOME")) + (kind == "mlp" ? "/configs/m2e/mlp.json" : "/configs/m2e/small.json"));
    o.config["model"]["hidden"] = 16;
    o.config["model"]["ff"] = 32;
    o.config["model"]["window"] = 4;
    o.config["model"]["mlp_hidden"] = 32;
    o.config["data"]["batch"] = 4;
    o.config["data"]["crop_frames"] = 40;
    o.config["train"]["lr"] = 0.003;
    o.config["train"]["warmup"] = 5;
    o.config["train"]["log_every"] = 5;
    o.config["train"]["checkpoint_every"] = 20;
    o.config["train"]["preview_every"] = 1000;
    o.config_name = "small.json";
    o.steps = 60;
    return o;
  }
  static std::string* dir_;
  static std::string* corpus_;
};
std::string* M2ETrain::dir_ = nullptr;
std::string* M2ETrain::corpus_ = nullptr;

TEST_F(M2ETrain, LossFallsCheckpointRoundTripsAndFigures) {
  const std::string out = *dir_ + "/m2e.ckpt";
  TrainM2EReport r = train_m2e(options(out));
  EXPECT_EQ(r.steps, 60);
  const std::vector<double> l2 = csv_column(out + ".losses.csv", "l2");
  ASSERT_GE(l2.size(), 6u);
  const double first = (l2[0] + l2[1]) / 2, last = (l2[l2.size() - 1] + l2[l2.size() - 2]) / 2;
  EXPECT_LT(last, 0.8 * first) << "l2 " << first << " -> " << last;
  EXPECT_TRUE(fs::exists(out + ".previews"));

  SafetensorsFile f(out);
  EXPECT_EQ(f.meta("emogene.kind"), "m2e");
  EXPECT_EQ(f.meta("emogene.format"), std::to_string(kM2EFormat));
  EXPECT_NE(f.meta("emogene.provenance").find("\"steps\":60"), std::string::npos);

  M2EModel a(out), b(out);
  EXPECT_EQ(a.kind(), "transformer");
  EXPECT_EQ(a.fps(), 25);
  EXPECT_EQ(a.receptive_field(), 8);
  dataset::Dataset ds(*corpus_);
  std::size_t ci = 0;
  for (std::size_t k = 0; k < ds.meta().clips.size(); ++k)
    if (ds.meta().clips[k].emotion == "happy" && ds.meta().clips[k].intensity > 0.9) ci = k;
  dataset::ClipData c = ds.load_clip(ci, false);
  const landmarks::Shape n = ds.neutral_shape(ds.meta().clips[ci].identity);
  EmotionTrack own{static_cast<int>(c.frames()), c.emotion, c.intensity};
  landmarks::Sequence pa = a.apply(c.landmarks_neutral, n, own), pb = b.apply(c.landmarks_neutral, n, own);
  EXPECT_EQ(pa.frames(), c.frames());
  EXPECT_EQ(pa.data, pb.data);  // the checkpoint loads to the same model, deterministically
  EXPECT_NE(pa.data, c.landmarks_neutral.data);

  // neutral returns the input exactly; so does intensity 0 of any emotion
  const int T = static_cast<int>(c.frames());
  EXPECT_EQ(a.apply(c.landmarks_neutral, n, make_track(parse_spec("neutral"), T, 25)).data, c.landmarks_neutral.data);
  EXPECT_EQ(a.apply(c.landmarks_neutral, n, make_track(parse_spec("happy@0"), T, 25)).data, c.landmarks_neutral.data);
  // at another fps: resampled through the model's rate, same length; neutral still exact
  landmarks::Sequence in30 = landmarks::resample(c.landmarks_neutral, 25, 30, T * 6 / 5);
  EXPECT_EQ(a.apply(in30, n, make_track(parse_spec("happy"), T * 6 / 5, 30), 30).frames(), T * 6 / 5);
  EXPECT_EQ(a.apply(in30, n, make_track(parse_spec("neutral"), T * 6 / 5, 30), 30).data, in30.data);
  EXPECT_NE(bad_input_of([&] { a.apply(c.landmarks_neutral, n, make_track(parse_spec("happy"), T - 1, 25)); }).find("emotion track"),
            std::string::npos);

  // Figures on the training split (the tiny corpus may have no test clips of every kind).
  M2EEval e = evaluate_m2e(a, *corpus_, "train");
  EXPECT_GT(e.clips, 0);
  EXPECT_EQ(e.neutral_error, 0.0);
  EXPECT_TRUE(e.monotonic) << e.magnitude[0] << " " << e.magnitude[1] << " " << e.magnitude[2];
  EXPECT_GT(e.magnitude[0], 0.0);
  EXPECT_LT(e.f_lmd, e.f_lmd_input);  // closer to the truth than the unchanged input
  EXPECT_GT(e.lip_gap_r, 0.9);
  EXPECT_EQ(e.emotion_accuracy, -1);  // no classifier given
  EXPECT_GT(e.transition_step, 0.0);
  EXPECT_GT(e.ordinary_step, 0.0);
  EXPECT_GT(e.ordinary_step, e.ordinary_mean);
  EXPECT_EQ(r.val.clips > 0, !ds.clips_in_split("val").empty());

  // Resuming a finished run under the same config is accepted (and has nothing left to do).
  TrainM2EOptions o2 = options(out);
  o2.resume = true;
  EXPECT_EQ(train_m2e(o2).steps, 60);
}

TEST_F(M2ETrain, MlpBaselineTrains) {
  const std::string out = *dir_ + "/mlp.ckpt";
  TrainM2EOptions o = options(out, "mlp");
  o.steps = 40;
  train_m2e(o);
  const std::vector<double> l2 = csv_column(out + ".losses.csv", "l2");
  ASSERT_GE(l2.size(), 4u);
  EXPECT_LT(l2.back(), l2.front());
  M2EModel m(out);
  EXPECT_EQ(m.kind(), "mlp");
  EXPECT_EQ(m.receptive_field(), 0);
  EXPECT_EQ(SafetensorsFile(out).meta("emogene.config").find("\"mlp\"") != std::string::npos, true);
}

TEST_F(M2ETrain, ErrorsNameTheProblem) {
  write_tensors(*dir_ + "/a2m.ckpt", {}, {{"emogene.kind", "a2m"}, {"emogene.format", "2"}});
  EXPECT_NE(bad_input_of([&] { M2EModel x(*dir_ + "/a2m.ckpt"); }).find("is a 'a2m' checkpoint, expected 'm2e'"), std::string::npos);

  // A dataset whose clips lack landmarks_emotional.npy.
  const std::string copy = *dir_ + "/no_emotional";
  fs::remove_all(copy);
  fs::copy(*corpus_, copy, fs::copy_options::recursive);
  for (const auto& e : fs::directory_iterator(copy + "/clips")) fs::remove(e.path() / "landmarks_emotional.npy");
  TrainM2EOptions o = options(*dir_ + "/x.ckpt");
  o.data = copy;
  const std::string msg = bad_input_of([&] { train_m2e(o); });
  EXPECT_NE(msg.find("has no landmarks_emotional.npy"), std::string::npos) << msg;
  EXPECT_NE(msg.find(copy), std::string::npos) << msg;

  // A split without emotional frames, and an unknown split.
  o = options(*dir_ + "/y.ckpt");
  o.config["data"]["split"] = "nosuchsplit";
  EXPECT_NE(bad_input_of([&] { train_m2e(o); }).find("no clips in the 'nosuchsplit' split"), std::string::npos);
  o.config["data"]["split"] = "train";
  o.config["model"]["kind"] = "rnn";
  EXPECT_NE(bad_input_of([&] { train_m2e(o); }).find("model.kind"), std::string::npos);
}
