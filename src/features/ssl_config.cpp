// Working out a HuBERT / wav2vec 2.0 checkpoint's architecture from its tensor names and shapes and
// from the config.json / preprocessor_config.json beside it, and checking that every tensor the model
// needs is there with the right shape and that nothing unknown is.
//
// Key names are facts of the public sources: Hugging Face transformers' Wav2Vec2Model / HubertModel
// (feature_extractor.conv_layers.N.{conv,layer_norm}, feature_projection.{layer_norm,projection},
// encoder.pos_conv_embed.conv.{weight_g,weight_v | parametrizations.weight.original0/1, bias},
// encoder.layer_norm, encoder.layers.N.{attention.{q,k,v,out}_proj, layer_norm,
// feed_forward.{intermediate,output}_dense, final_layer_norm}), their *ForCTC classes (base model
// under `hubert.`/`wav2vec2.`, plus lm_head), and torchaudio's Wav2Vec2Model, whose
// import_huggingface_model maps HF feature_projection to encoder.feature_projection and HF encoder
// to encoder.transformer (and lm_head to aux).
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "emogene/core/error.h"
#include "emogene/core/safetensors.h"
#include "emogene/features/ssl.h"
#include "features/ssl_keys.h"

namespace emogene::features {

namespace fs = std::filesystem;
using nlohmann::json;

std::int64_t SslConfig::receptive_field() const {
  if (conv.empty()) return 0;
  std::int64_t r = conv.back().kernel;
  for (std::size_t i = conv.size() - 1; i-- > 0;) r = (r - 1) * conv[i].stride + conv[i].kernel;
  return r;
}

std::int64_t SslConfig::hop() const {
  std::int64_t h = 1;
  for (const auto& c : conv) h *= c.stride;
  return h;
}

std::int64_t SslConfig::frames(std::int64_t n) const {
  for (const auto& c : conv) {
    if (n < c.kernel) return 0;
    n = (n - c.kernel) / c.stride + 1;
  }
  return n;
}

std::string SslConfig::key(const std::string& canonical) const {
  std::string k = canonical;
  if (naming == KeyNaming::Torchaudio) {
    if (k.rfind("feature_projection.", 0) == 0) k = "encoder." + k;
    else if (k.rfind("encoder.", 0) == 0) k = "encoder.transformer." + k.substr(8);
  }
  return prefix + k;
}

std::string SslConfig::describe() const {
  std::ostringstream s;
  s << (family.empty() ? "hubert/wav2vec2" : family);
  if (!architecture.empty()) s << " (" << architecture << ")";
  s << ": " << (naming == KeyNaming::Torchaudio ? "torchaudio" : naming == KeyNaming::HuggingFace ? "Hugging Face" : "random")
    << " weights";
  if (!prefix.empty()) s << " under '" << prefix << "'";
  s << "; conv " << conv.size() << "x" << conv_dim() << " " << (conv_norm == ConvNorm::Group ? "group-norm" : "layer-norm")
    << (conv_bias ? " with bias" : "") << "; " << layers << " " << (pre_norm ? "pre-norm" : "post-norm")
    << " layers, width " << hidden << ", " << heads << " heads, ffn " << ffn << ", pos conv " << pos_kernel << "/"
    << pos_groups << "; input normalisation " << (normalize ? "on" : "off");
  if (!normalize_source.empty()) s << " (" << normalize_source << ")";
  return s.str();
}

std::vector<ExpectedTensor> expected_tensors(const SslConfig& c) {
  std::vector<ExpectedTensor> out;
  auto add = [&](const std::string& name, std::vector<std::int64_t> shape) { out.push_back({name, std::move(shape)}); };
  std::int64_t cin = 1;
  for (std::size_t i = 0; i < c.conv.size(); ++i) {
    const auto& L = c.conv[i];
    const std::string p = "feature_extractor.conv_layers." + std::to_string(i) + ".";
    add(p + "conv.weight", {L.channels, cin, L.kernel});
    if (c.conv_bias) add(p + "conv.bias", {L.channels});
    if (c.conv_norm == ConvNorm::Layer || i == 0) {
      add(p + "layer_norm.weight", {L.channels});
      add(p + "layer_norm.bias", {L.channels});
    }
    cin = L.channels;
  }
  const std::int64_t H = c.hidden, C = c.conv_dim();
  if (c.projection_norm) {
    add("feature_projection.layer_norm.weight", {C});
    add("feature_projection.layer_norm.bias", {C});
  }
  add("feature_projection.projection.weight", {H, C});
  add("feature_projection.projection.bias", {H});
  const std::vector<std::int64_t> pos_shape = {H, c.pos_groups > 0 ? H / c.pos_groups : H, c.pos_kernel};
  const std::string pc = "encoder.pos_conv_embed.conv.";
  switch (c.pos_form) {
    case PosConvForm::WeightNorm:
      add(pc + "weight_g", {1, 1, c.pos_kernel});
      add(pc + "weight_v", pos_shape);
      break;
    case PosConvForm::Parametrizations:
      add(pc + "parametrizations.weight.original0", {1, 1, c.pos_kernel});
      add(pc + "parametrizations.weight.original1", pos_shape);
      break;
    case PosConvForm::Plain:
      add(pc + "weight", pos_shape);
      break;
  }
  add(pc + "bias", {H});
  add("encoder.layer_norm.weight", {H});
  add("encoder.layer_norm.bias", {H});
  for (std::int64_t l = 0; l < c.layers; ++l) {
    const std::string p = "encoder.layers." + std::to_string(l) + ".";
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      add(p + "attention." + proj + ".weight", {H, H});
      add(p + "attention." + proj + ".bias", {H});
    }
    add(p + "layer_norm.weight", {H});
    add(p + "layer_norm.bias", {H});
    add(p + "feed_forward.intermediate_dense.weight", {c.ffn, H});
    add(p + "feed_forward.intermediate_dense.bias", {c.ffn});
    add(p + "feed_forward.output_dense.weight", {H, c.ffn});
    add(p + "feed_forward.output_dense.bias", {H});
    add(p + "final_layer_norm.weight", {H});
    add(p + "final_layer_norm.bias", {H});
  }
  return out;
}

namespace {

const char* const kConvW0 = "feature_extractor.conv_layers.0.conv.weight";

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

// Tensors a checkpoint may hold that the feature extractor does not need: task heads, the
// pre-training quantizer and projections, the SpecAugment mask embedding.
bool ignorable(const std::string& name, const std::string& prefix) {
  static const char* const heads[] = {"lm_head.", "aux.", "project_q.", "project_hid.", "quantizer.", "projector.",
                                      "classifier.", "final_proj.", "mask_generator.", "logit_generator.",
                                      "label_embeddings_concat", "layer_weights"};
  for (const char* h : heads)
    if (starts_with(name, h)) return true;
  if (name == prefix + "masked_spec_embed" || name == prefix + "mask_emb" || name == "masked_spec_embed") return true;
  return false;
}

json read_json(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw bad_input(path, "cannot read");
  std::stringstream s;
  s << f.rdbuf();
  try {
    json j = json::parse(s.str());
    if (!j.is_object()) throw bad_input(path, "not a JSON object");
    return j;
  } catch (const json::exception& e) {
    throw bad_input(path, std::string("invalid JSON: ") + e.what());
  }
}

struct ConfigReader {
  std::string path;
  json j;
  bool has(const char* k) const { return j.is_object() && j.contains(k) && !j[k].is_null(); }
  std::int64_t integer(const char* k) const {
    if (!j[k].is_number_integer() || j[k].get<std::int64_t>() <= 0)
      throw bad_input(path, std::string("'") + k + "' must be a positive integer");
    return j[k].get<std::int64_t>();
  }
  bool boolean(const char* k) const {
    if (!j[k].is_boolean()) throw bad_input(path, std::string("'") + k + "' must be true or false");
    return j[k].get<bool>();
  }
  std::string string(const char* k) const {
    if (!j[k].is_string()) throw bad_input(path, std::string("'") + k + "' must be a string");
    return j[k].get<std::string>();
  }
  std::vector<std::int64_t> ints(const char* k) const {
    if (!j[k].is_array()) throw bad_input(path, std::string("'") + k + "' must be a list of integers");
    std::vector<std::int64_t> v;
    for (const auto& e : j[k]) {
      if (!e.is_number_integer() || e.get<std::int64_t>() <= 0)
        throw bad_input(path, std::string("'") + k + "' must be a list of positive integers");
      v.push_back(e.get<std::int64_t>());
    }
    return v;
  }
};

// A value the weights show, checked against config.json when that states it too.
void agree(const ConfigReader& cfg, const char* key, std::int64_t from_weights, const std::string& weights_path,
           const std::string& what) {
  if (cfg.has(key) && cfg.integer(key) != from_weights)
    throw bad_input(cfg.path, std::string("'") + key + "' is " + std::to_string(cfg.integer(key)) + " but " +
                                  weights_path + " has " + what + " " + std::to_string(from_weights));
}

}  // namespace

SslConfig inspect_ssl_checkpoint(const std::string& path) {
  SafetensorsFile st(path);
  const std::vector<std::string> names = st.names();
  SslConfig c;

  // Where the base model's keys start, and whose naming they follow.
  std::string prefix;
  bool found = false;
  for (const std::string& n : names) {
    if (n.size() >= std::strlen(kConvW0) && n.compare(n.size() - std::strlen(kConvW0), std::string::npos, kConvW0) == 0) {
      prefix = n.substr(0, n.size() - std::strlen(kConvW0));
      found = true;
      break;
    }
  }
  if (!found)
    throw bad_input(path, std::string("not a HuBERT or wav2vec 2.0 checkpoint: tensor '") + kConvW0 + "' is missing" +
                              (names.empty() ? std::string(" (the file holds no tensors)")
                                             : " (first tensor: '" + names.front() + "')"));
  c.prefix = prefix;
  c.naming = st.has(prefix + "encoder.transformer.layer_norm.weight") ||
                     st.has(prefix + "encoder.feature_projection.projection.weight")
                 ? KeyNaming::Torchaudio
                 : KeyNaming::HuggingFace;
  auto has = [&](const std::string& canonical) { return st.has(c.key(canonical)); };
  auto shape = [&](const std::string& canonical) -> const std::vector<std::int64_t>& {
    return st.get(c.key(canonical)).shape;
  };

  // config.json / preprocessor_config.json beside the weights.
  const fs::path dir = fs::path(path).parent_path();
  ConfigReader cfg;
  cfg.path = (dir / "config.json").string();
  if (fs::exists(cfg.path)) {
    cfg.j = read_json(cfg.path);
    c.has_config_json = true;
  } else {
    cfg.j = json::object();
  }
  if (cfg.has("model_type")) {
    const std::string mt = cfg.string("model_type");
    if (mt != "hubert" && mt != "wav2vec2")
      throw bad_input(cfg.path, "model_type '" + mt + "' is not hubert or wav2vec2 (emogene runs those two)");
    c.family = mt;
  } else if (c.naming == KeyNaming::HuggingFace && (prefix == "hubert." || prefix == "wav2vec2.")) {
    c.family = prefix.substr(0, prefix.size() - 1);
  } else if (st.has("quantizer.codevectors") || st.has("project_q.weight")) {
    c.family = "wav2vec2";
  }
  if (cfg.has("architectures") && cfg.j["architectures"].is_array() && !cfg.j["architectures"].empty() &&
      cfg.j["architectures"][0].is_string())
    c.architecture = cfg.j["architectures"][0].get<std::string>();
  for (const char* act : {"hidden_act", "feat_extract_activation"})
    if (cfg.has(act) && cfg.string(act) != "gelu")
      throw bad_input(cfg.path, std::string("'") + act + "' is '" + cfg.string(act) + "'; only gelu is supported");
  if (cfg.has("feat_extract_norm")) {
    const std::string n = cfg.string("feat_extract_norm");
    if (n != "group" && n != "layer") throw bad_input(cfg.path, "'feat_extract_norm' must be \"group\" or \"layer\"");
  }

  // Conv feature encoder.
  std::int64_t nconv = 0;
  while (has("feature_extractor.conv_layers." + std::to_string(nconv) + ".conv.weight")) ++nconv;
  const std::vector<std::int64_t> cfg_strides = cfg.has("conv_stride") ? cfg.ints("conv_stride") : std::vector<std::int64_t>{};
  const std::vector<std::int64_t> std_kernels = {10, 3, 3, 3, 3, 2, 2}, std_strides = {5, 2, 2, 2, 2, 2, 2};
  std::int64_t cin = 1;
  for (std::int64_t i = 0; i < nconv; ++i) {
    const std::string name = "feature_extractor.conv_layers." + std::to_string(i) + ".conv.weight";
    const auto& s = shape(name);
    if (s.size() != 3 || s[1] != cin)
      throw bad_input(path, "tensor '" + c.key(name) + "' has shape " + shape_string(s) + ", expected [channels, " +
                                std::to_string(cin) + ", kernel]");
    ConvLayerSpec L;
    L.channels = s[0];
    L.kernel = s[2];
    c.conv.push_back(L);
    cin = s[0];
  }
  if (cfg.has("conv_dim") && static_cast<std::int64_t>(cfg.ints("conv_dim").size()) != nconv)
    throw bad_input(cfg.path, "'conv_dim' lists " + std::to_string(cfg.ints("conv_dim").size()) + " conv layers but " +
                                  path + " has " + std::to_string(nconv));
  for (std::int64_t i = 0; i < nconv; ++i) {
    if (cfg.has("conv_dim") && cfg.ints("conv_dim")[static_cast<std::size_t>(i)] != c.conv[static_cast<std::size_t>(i)].channels)
      throw bad_input(cfg.path, "'conv_dim' disagrees with the weights at conv layer " + std::to_string(i));
    if (cfg.has("conv_kernel") && (static_cast<std::int64_t>(cfg.ints("conv_kernel").size()) != nconv ||
                                   cfg.ints("conv_kernel")[static_cast<std::size_t>(i)] != c.conv[static_cast<std::size_t>(i)].kernel))
      throw bad_input(cfg.path, "'conv_kernel' disagrees with the weights at conv layer " + std::to_string(i));
  }
  if (!cfg_strides.empty()) {
    if (static_cast<std::int64_t>(cfg_strides.size()) != nconv)
      throw bad_input(cfg.path, "'conv_stride' lists " + std::to_string(cfg_strides.size()) + " layers, the weights have " +
                                    std::to_string(nconv));
    for (std::int64_t i = 0; i < nconv; ++i) c.conv[static_cast<std::size_t>(i)].stride = cfg_strides[static_cast<std::size_t>(i)];
  } else {
    bool standard = nconv == 7;
    for (std::int64_t i = 0; standard && i < nconv; ++i)
      standard = c.conv[static_cast<std::size_t>(i)].kernel == std_kernels[static_cast<std::size_t>(i)];
    if (!standard)
      throw bad_input(path, "conv kernels are not the standard 10,3,3,3,3,2,2 and no config.json beside the weights gives "
                            "'conv_stride'");
    for (std::int64_t i = 0; i < nconv; ++i) c.conv[static_cast<std::size_t>(i)].stride = std_strides[static_cast<std::size_t>(i)];
  }
  if (c.receptive_field() != kWindow || c.hop() != kHop)
    throw bad_input(path, "the conv stack has a " + std::to_string(c.receptive_field()) + "-sample receptive field and a " +
                              std::to_string(c.hop()) + "-sample hop; emogene's 50 Hz frame grid needs 400 and 320");
  c.conv_bias = cfg.has("conv_bias") ? cfg.boolean("conv_bias") : has("feature_extractor.conv_layers.0.conv.bias");
  if (cfg.has("feat_extract_norm"))
    c.conv_norm = cfg.string("feat_extract_norm") == "layer" ? ConvNorm::Layer : ConvNorm::Group;
  else if (nconv > 1 && has("feature_extractor.conv_layers.1.layer_norm.weight"))
    c.conv_norm = ConvNorm::Layer;
  else if (has("feature_extractor.conv_layers.0.layer_norm.weight"))
    c.conv_norm = ConvNorm::Group;
  else
    throw bad_input(path, "tensor '" + c.key("feature_extractor.conv_layers.0.layer_norm.weight") +
                              "' is missing (the conv feature encoder has no normalisation)");

  // Projection and transformer.
  const std::string proj = "feature_projection.projection.weight";
  if (!has(proj)) throw bad_input(path, "tensor '" + c.key(proj) + "' is missing");
  const auto& ps = shape(proj);
  if (ps.size() != 2 || ps[1] != c.conv_dim())
    throw bad_input(path, "tensor '" + c.key(proj) + "' has shape " + shape_string(ps) + ", expected [hidden, " +
                              std::to_string(c.conv_dim()) + "]");
  c.hidden = ps[0];
  agree(cfg, "hidden_size", c.hidden, path, "width");
  c.projection_norm = cfg.has("feat_proj_layer_norm") ? cfg.boolean("feat_proj_layer_norm")
                                                      : has("feature_projection.layer_norm.weight");
  c.layers = 0;
  while (has("encoder.layers." + std::to_string(c.layers) + ".attention.q_proj.weight")) ++c.layers;
  if (cfg.has("num_hidden_layers")) c.layers = cfg.integer("num_hidden_layers");  // a missing layer is reported below
  const std::string ffn = "encoder.layers.0.feed_forward.intermediate_dense.weight";
  if (c.layers > 0 && has(ffn) && shape(ffn).size() == 2) c.ffn = shape(ffn)[0];
  if (cfg.has("intermediate_size")) c.ffn = cfg.integer("intermediate_size");
  if (cfg.has("num_attention_heads")) {
    c.heads = cfg.integer("num_attention_heads");
  } else if (c.hidden % 64 == 0) {
    c.heads = c.hidden / 64;  // every published HuBERT / wav2vec 2.0 model has 64-wide heads
  } else {
    throw bad_input(path, "cannot tell the number of attention heads of a width-" + std::to_string(c.hidden) +
                              " model: put a config.json with num_attention_heads beside the weights");
  }
  if (c.hidden % c.heads != 0)
    throw bad_input(cfg.path, "width " + std::to_string(c.hidden) + " is not divisible by " + std::to_string(c.heads) + " heads");

  const std::string pc = "encoder.pos_conv_embed.conv.";
  std::string pos_weight;
  if (has(pc + "weight_v")) {
    c.pos_form = PosConvForm::WeightNorm;
    pos_weight = pc + "weight_v";
  } else if (has(pc + "parametrizations.weight.original1")) {
    c.pos_form = PosConvForm::Parametrizations;
    pos_weight = pc + "parametrizations.weight.original1";
  } else if (has(pc + "weight")) {
    c.pos_form = PosConvForm::Plain;
    pos_weight = pc + "weight";
  } else {
    throw bad_input(path, "tensor '" + c.key(pc + "weight_v") + "' (or '" + c.key(pc + "parametrizations.weight.original1") +
                              "') is missing");
  }
  const auto& pws = shape(pos_weight);
  if (pws.size() != 3 || pws[0] != c.hidden || pws[1] <= 0 || c.hidden % pws[1] != 0)
    throw bad_input(path, "tensor '" + c.key(pos_weight) + "' has shape " + shape_string(pws) + ", expected [" +
                              std::to_string(c.hidden) + ", hidden/groups, kernel]");
  c.pos_kernel = pws[2];
  c.pos_groups = c.hidden / pws[1];
  agree(cfg, "num_conv_pos_embeddings", c.pos_kernel, path, "a positional conv kernel of");
  agree(cfg, "num_conv_pos_embedding_groups", c.pos_groups, path, "positional conv groups");
  c.pre_norm = cfg.has("do_stable_layer_norm") ? cfg.boolean("do_stable_layer_norm") : c.conv_norm == ConvNorm::Layer;
  if (cfg.has("layer_norm_eps")) {
    if (!cfg.j["layer_norm_eps"].is_number() || cfg.j["layer_norm_eps"].get<double>() <= 0)
      throw bad_input(cfg.path, "'layer_norm_eps' must be a positive number");
    c.eps = cfg.j["layer_norm_eps"].get<double>();
  }

  // Input normalisation: the checkpoint's own setting.
  const std::string pre = (dir / "preprocessor_config.json").string();
  if (fs::exists(pre)) {
    ConfigReader pc2{pre, read_json(pre)};
    if (pc2.has("do_normalize")) {
      c.normalize = pc2.boolean("do_normalize");
      c.normalize_source = "preprocessor_config.json";
    }
    if (pc2.has("sampling_rate") && pc2.integer("sampling_rate") != kSampleRate)
      throw bad_input(pre, "sampling_rate is " + std::to_string(pc2.integer("sampling_rate")) + ", expected 16000");
  }
  if (c.normalize_source.empty()) {
    if (cfg.has("do_normalize")) {
      c.normalize = cfg.boolean("do_normalize");
      c.normalize_source = "config.json";
    } else {
      c.normalize = c.conv_norm == ConvNorm::Layer;
      c.normalize_source = c.normalize ? "layer-norm feature encoder" : "group-norm feature encoder";
    }
  }

  // Every tensor the model needs, with its shape; then nothing unknown.
  std::set<std::string> expected;
  for (const auto& e : expected_tensors(c)) {
    st.get(c.key(e.canonical), e.shape);  // throws naming the missing or mis-shaped tensor
    expected.insert(c.key(e.canonical));
  }
  for (const std::string& n : names) {
    if (expected.count(n)) continue;
    if (ignorable(n, prefix)) {
      c.ignored.push_back(n);
      continue;
    }
    throw bad_input(path, "unexpected tensor '" + n + "': not part of a HuBERT / wav2vec 2.0 model emogene can run (" +
                              std::string(c.naming == KeyNaming::Torchaudio ? "torchaudio" : "Hugging Face") +
                              " naming" + (prefix.empty() ? "" : ", prefix '" + prefix + "'") + ")");
  }
  if (c.architecture.empty()) {
    const bool ctc = st.has("lm_head.weight") || st.has("aux.weight");
    if (c.naming == KeyNaming::Torchaudio)
      c.architecture = "torchaudio Wav2Vec2Model";
    else if (!c.family.empty())
      c.architecture = std::string(c.family == "hubert" ? "Hubert" : "Wav2Vec2") + (ctc ? "ForCTC" : "Model");
  }
  return c;
}

SslConfig ssl_preset(const std::string& name) {
  SslConfig c;
  c.naming = KeyNaming::None;
  const std::vector<std::int64_t> kernels = {10, 3, 3, 3, 3, 2, 2}, strides = {5, 2, 2, 2, 2, 2, 2};
  for (std::size_t i = 0; i < kernels.size(); ++i) c.conv.push_back({512, kernels[i], strides[i]});
  c.architecture = name;
  if (name == "hubert_base" || name == "wav2vec2_base") {
    c.family = name.substr(0, name.find('_'));
    c.conv_norm = ConvNorm::Group;
    c.hidden = 768, c.layers = 12, c.heads = 12, c.ffn = 3072;
    c.pre_norm = false;
    c.normalize = false;
  } else if (name == "hubert_large" || name == "wav2vec2_large_lv60k") {
    c.family = name.substr(0, name.find('_'));
    c.conv_norm = ConvNorm::Layer;
    c.conv_bias = name != "hubert_large";
    c.hidden = 1024, c.layers = 24, c.heads = 16, c.ffn = 4096;
    c.pre_norm = true;
    c.normalize = true;
  } else {
    throw bad_input("--model", "unknown architecture '" + name +
                                   "' (hubert_base, hubert_large, wav2vec2_base, wav2vec2_large_lv60k)");
  }
  c.normalize_source = "preset";
  return c;
}

}  // namespace emogene::features
