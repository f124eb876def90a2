// `emogene bench`: the performance figures of DESIGN §6. A group of sub-subcommands, one per target:
// `bench features` now; `bench nerf` and `bench render` join it with their own add_bench_*().
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "cli/commands.h"
#include "emogene/core/error.h"
#include "emogene/core/fileio.h"
#include "emogene/core/interrupt.h"
#include "emogene/core/npy.h"
#include "emogene/core/runtime.h"
#include "emogene/features/mel.h"
#include "emogene/features/ssl.h"

namespace emogene::cli {

namespace {

namespace fs = std::filesystem;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string default_cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/emogene/bench";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/emogene/bench";
  return (fs::temp_directory_path() / "emogene-bench").string();
}

// tools/ of the source tree: $EMOGENE_HOME/tools, beside configs/ (the build tree links it), or
// above the executable.
std::string find_tools_dir() {
  std::vector<fs::path> candidates;
  if (const char* h = std::getenv("EMOGENE_HOME"); h && *h) candidates.emplace_back(fs::path(h) / "tools");
  try {
    candidates.push_back(fs::canonical(resource_dir("configs")).parent_path() / "tools");
  } catch (const std::exception&) {
  }
  const fs::path exe = executable_dir();
  candidates.push_back(exe.parent_path() / "tools");
  candidates.push_back(exe.parent_path().parent_path() / "tools");
  for (const auto& c : candidates)
    if (fs::exists(c / "make_feature_fixtures.py") && fs::exists(c / "bench_features_torchaudio.py")) return c.string();
  return "";
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// A child process spoken to line by line over its stdin/stdout (stderr is ours).
class LineProcess {
 public:
  explicit LineProcess(const std::vector<std::string>& argv) {
    int in[2], out[2];
    if (::pipe(in) != 0 || ::pipe(out) != 0) throw internal_error("bench", "pipe: " + errno_text(errno));
    pid_ = ::fork();
    if (pid_ < 0) throw internal_error("bench", "fork: " + errno_text(errno));
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::close(in[0]), ::close(in[1]), ::close(out[0]), ::close(out[1]);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      std::_Exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    to_ = ::fdopen(in[1], "w");
    from_ = ::fdopen(out[0], "r");
  }
  ~LineProcess() {
    if (to_) {
      std::fputs("quit\n", to_);
      std::fclose(to_);
    }
    if (from_) std::fclose(from_);
    if (pid_ > 0) {
      int status = 0;
      for (int i = 0; i < 50 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i) ::usleep(100000);
      if (::waitpid(pid_, &status, WNOHANG) == 0) {
        ::kill(pid_, SIGTERM);
        ::waitpid(pid_, &status, 0);
      }
    }
  }
  LineProcess(const LineProcess&) = delete;
  LineProcess& operator=(const LineProcess&) = delete;

  bool send(const std::string& line) {
    if (std::fputs((line + "\n").c_str(), to_) < 0) return false;
    return std::fflush(to_) == 0;
  }
  // One line without its newline; false at end of output (the child died).
  bool receive(std::string& line) {
    line.clear();
    int c;
    while ((c = std::fgetc(from_)) != EOF && c != '\n') line += static_cast<char>(c);
    return c != EOF || !line.empty();
  }

 private:
  pid_t pid_ = -1;
  FILE* to_ = nullptr;
  FILE* from_ = nullptr;
};

// A deterministic speech-like test signal: a gliding harmonic tone, amplitude modulated, with noise.
std::vector<float> bench_signal(double seconds) {
  const std::size_t n = static_cast<std::size_t>(seconds * features::kSampleRate);
  std::vector<float> x(n);
  double phase = 0;
  std::uint32_t rng = 12345;
  for (std::size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / features::kSampleRate;
    phase += 2 * M_PI * (120 + 60 * std::sin(2 * M_PI * 0.7 * t)) / features::kSampleRate;
    double v = 0;
    for (int k = 1; k < 12; ++k) v += std::sin(k * phase) / k;
    rng = rng * 1664525u + 1013904223u;
    const double noise = (static_cast<double>(rng >> 8) / 16777216.0 - 0.5) * 0.07;
    const double env = 0.5 + 0.5 * std::pow(std::sin(2 * M_PI * 3.0 * t), 2);
    x[i] = static_cast<float>(0.12 * v * env + noise);
  }
  return x;
}

struct BenchFeaturesOptions {
  double seconds = 10;
  int repeats = 5;
  std::string model = "hubert_base";
  std::string cache;
  std::string python = "/usr/bin/python3";
  bool no_torchaudio = false;
};

void bench_features(const BenchFeaturesOptions& o) {
  check_input(o.seconds >= 1, "--seconds", "must be at least 1");
  check_input(o.repeats >= 1, "--repeats", "must be at least 1");
  const features::SslConfig preset = features::ssl_preset(o.model);
  const int nthreads = threads();
  const BlasInfo blas = live_blas();
  const std::string cache = o.cache.empty() ? default_cache_dir() : o.cache;
  fs::create_directories(cache);
  std::printf("bench features: %s, %.1f s of audio, %d threads, BLAS %s%s\n", o.model.c_str(), o.seconds, nthreads,
              blas.name.c_str(), blas.path.empty() ? "" : (" (" + blas.path + ")").c_str());
  std::fflush(stdout);

  // torchaudio, the reference: Debian's python3-torchaudio through tools/.
  std::string why_not;
  const std::string tools = find_tools_dir();
  if (o.no_torchaudio) why_not = "--no-torchaudio";
  else if (tools.empty()) why_not = "tools/make_feature_fixtures.py not found (set EMOGENE_HOME to the source tree)";
  else if (std::system((shell_quote(o.python) + " -c 'import torchaudio' >/dev/null 2>&1").c_str()) != 0)
    why_not = o.python + " cannot import torchaudio (apt install python3-torchaudio)";
  const bool reference = why_not.empty();

  // The same 10 s of audio and the same weights file for both.
  const std::vector<float> x = bench_signal(o.seconds);
  char audio_name[64];
  std::snprintf(audio_name, sizeof audio_name, "bench_audio_%gs.npy", o.seconds);
  const std::string audio_path = cache + "/" + audio_name;
  write_npy(audio_path, Array::from_f32({static_cast<std::int64_t>(x.size())}, x.data()));
  const std::string weights = cache + "/" + o.model + ".safetensors";
  features::ExtractorOptions eo;
  eo.kind = preset.family;
  eo.chunk_seconds = 0;  // one pass, the same work as torchaudio's forward
  std::unique_ptr<features::SslExtractor> ours;
  if (reference) {
    if (!fs::exists(weights)) {
      std::printf("making %s (random weights, torchaudio naming) with tools/make_feature_fixtures.py ...\n", weights.c_str());
      std::fflush(stdout);
      const std::string cmd = shell_quote(o.python) + " " + shell_quote(tools + "/make_feature_fixtures.py") + " --full " +
                              o.model + " --out " + shell_quote(cache) + " >/dev/null";
      if (std::system(cmd.c_str()) != 0 || !fs::exists(weights))
        throw internal_error(weights, "tools/make_feature_fixtures.py --full " + o.model + " failed");
    }
    eo.weights = weights;
    ours = std::make_unique<features::SslExtractor>(eo);
  } else {
    std::printf("torchaudio: not available (%s); timing emogene alone, random weights\n", why_not.c_str());
    ours = std::make_unique<features::SslExtractor>(preset, 1, eo);
  }

  std::unique_ptr<LineProcess> ta;
  std::string ta_version;
  const std::string ref_path = cache + "/" + o.model + "_torchaudio_out.npy";
  if (reference) {
    std::vector<std::string> argv = {o.python, tools + "/bench_features_torchaudio.py", "--weights", weights, "--model",
                                     o.model, "--audio", audio_path, "--threads", std::to_string(nthreads),
                                     "--reference", ref_path};
    if (ours->normalize()) argv.push_back("--normalize");
    ta = std::make_unique<LineProcess>(argv);
    std::string line;
    if (!ta->receive(line) || line.rfind("ready", 0) != 0)
      throw internal_error("bench", "the torchaudio reference did not start (" + line + ")");
    ta_version = line.substr(6);
  }

  // Warm-up (and accuracy against torchaudio on the same weights).
  features::Features f = ours->extract(x);
  if (reference) {
    Array ref = read_npy(ref_path);
    std::vector<float> r = ref.to_float();
    float d = 0;
    if (r.size() == f.data.size())
      for (std::size_t i = 0; i < r.size(); ++i) d = std::max(d, std::fabs(r[i] - f.data[i]));
    std::printf("max abs diff vs torchaudio: %.2e (%lld x %lld)\n", r.size() == f.data.size() ? d : INFINITY,
                static_cast<long long>(f.frames), static_cast<long long>(f.dim));
  }

  std::vector<double> t_ours, t_ta, ratios;
  for (int r = 0; r < o.repeats; ++r) {
    throw_if_interrupted("bench");
    auto t0 = std::chrono::steady_clock::now();
    f = ours->extract(x);
    t_ours.push_back(seconds_since(t0));
    if (ta) {
      std::string line;
      if (!ta->send("run") || !ta->receive(line)) throw internal_error("bench", "the torchaudio reference stopped");
      t_ta.push_back(std::atof(line.c_str()));
      ratios.push_back(t_ours.back() / t_ta.back());
      std::printf("round %d: emogene %.3f s, torchaudio %.3f s, ratio %.3f\n", r + 1, t_ours.back(), t_ta.back(), ratios.back());
    } else {
      std::printf("round %d: emogene %.3f s\n", r + 1, t_ours.back());
    }
    std::fflush(stdout);
  }
  const features::SslTimings st = ours->last_timings();

  features::MelExtractor mel;
  std::vector<double> t_mel;
  for (int r = 0; r < std::max(5, o.repeats); ++r) {
    auto t0 = std::chrono::steady_clock::now();
    (void)mel.extract(x);
    t_mel.push_back(seconds_since(t0));
  }

  std::printf("\n%-24s %10s %10s %10s\n", "", "median s", "min s", "RTF");
  auto row = [&](const std::string& name, const std::vector<double>& t) {
    std::printf("%-24s %10.4f %10.4f %10.5f\n", name.c_str(), median(t), *std::min_element(t.begin(), t.end()),
                median(t) / o.seconds);
  };
  row("emogene " + o.model, t_ours);
  if (!t_ta.empty()) row("torchaudio " + o.model, t_ta);
  row("emogene mel", t_mel);
  std::printf("emogene stages (last run): normalise %.3f s, conv %.3f s, projection %.3f s, transformer %.3f s\n",
              st.normalise, st.conv, st.projection, st.transformer);
  std::printf("threads: %d; BLAS: %s%s; emogene's matrix products: %s\n", nthreads, blas.name.c_str(),
              blas.reference ? " (slow reference BLAS!)" : "", features::matmul_backend().c_str());
  if (!ta_version.empty()) std::printf("torchaudio: torch/torchaudio/threads %s\n", ta_version.c_str());
  if (!ratios.empty()) {
    std::printf("ratio: %.3f (emogene / torchaudio, median of %zu alternated runs; goal <= 1.0)\n", median(ratios),
                ratios.size());
  } else {
    std::printf("ratio: n/a (torchaudio not available: %s)\n", why_not.c_str());
  }
}

void add_bench_features(CLI::App& bench, RunFn& run) {
  auto opt = std::make_shared<BenchFeaturesOptions>();
  CLI::App* sub = bench.add_subcommand(
      "features",
      "HuBERT features: emogene against torchaudio (Debian's python3-torchaudio, run by /usr/bin/python3) on the "
      "same audio, weights (random, generated into the cache folder by tools/make_feature_fixtures.py when "
      "missing) and thread count (--threads), alternating; prints the median time ratio, the real-time factors "
      "of the model and of mel, the live BLAS and the thread count");
  sub->add_option("--model", opt->model, "Architecture: hubert_base, hubert_large, wav2vec2_large_lv60k")
      ->check(CLI::IsMember({"hubert_base", "hubert_large", "wav2vec2_large_lv60k"}))
      ->capture_default_str();
  sub->add_option("--seconds", opt->seconds, "Length of the test audio")->capture_default_str();
  sub->add_option("--repeats", opt->repeats, "Alternated runs of each (the median is reported)")->capture_default_str();
  sub->add_option("--cache", opt->cache, "Folder for the generated weights and audio (default: ~/.cache/emogene/bench)");
  sub->add_option("--python", opt->python, "Python with torchaudio")->capture_default_str();
  sub->add_flag("--no-torchaudio", opt->no_torchaudio, "Time emogene alone");
  sub->callback([opt, &run] { run = [opt] { bench_features(*opt); }; });
}

}  // namespace

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void setup_bench(CLI::App& app, RunFn& run) {
  CLI::App* bench = app.add_subcommand("bench", "Performance figures (targets: docs/architecture.md §6; one target per subcommand)");
  add_bench_features(*bench, run);
  add_bench_nerf(*bench, run);
  add_bench_render(*bench, run);
  bench->callback([bench, &run] {
    if (bench->get_subcommands().empty())
      run = [] { throw bad_input("bench", "needs a target: emogene bench features|nerf|render (see emogene bench --help)"); };
  });
}

}  // namespace emogene::cli
