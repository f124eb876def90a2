// Each subcommand lives in its own file: an options struct, setup_<cmd>() that registers it with
// CLI11, and a run function. setup_<cmd>() stores the run function in `run`, which main() calls
// after parsing and after the global options (threads, logging) are in force.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <vector>

namespace emogene::cli {

using RunFn = std::function<void()>;

void setup_info(CLI::App& app, RunFn& run);
void setup_synth(CLI::App& app, RunFn& run);
void setup_features(CLI::App& app, RunFn& run);
void setup_bench(CLI::App& app, RunFn& run);  // `bench features`, `bench nerf`
void add_bench_nerf(CLI::App& bench, RunFn& run);    // bench_nerf.cpp
void add_bench_render(CLI::App& bench, RunFn& run);  // bench_render.cpp
double median(std::vector<double> v);                  // of the benchmarks' runs (0 for none)
void setup_train(CLI::App& app, RunFn& run);
void setup_prepare(CLI::App& app, RunFn& run);
void setup_render(CLI::App& app, RunFn& run);   // `render`: audio to an MP4
void setup_batch(CLI::App& app, RunFn& run);    // `batch`: a folder of audio to MP4s
void setup_eval(CLI::App& app, RunFn& run);     // `eval`: the quality metrics the inputs allow

// `emogene --version`: prints the versions, live BLAS, CPU features and thread count.
void print_version();

}  // namespace emogene::cli
