// emogene: audio-driven emotional talking heads. Parses the command line, sets the process-wide
// options (logging, thread budget, signals), runs one subcommand, and maps errors to exit codes:
// 0 success, 2 bad input or usage, 1 internal failure, 130 interrupted (DESIGN §8).
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>
#include <string>

#include "cli/commands.h"
#include "emogene/audio/ffmpeg.h"
#include "emogene/core/error.h"
#include "emogene/core/interrupt.h"
#include "emogene/core/log.h"
#include "emogene/core/runtime.h"

int main(int argc, char** argv) {
  using namespace emogene;
  select_blas_core(argc, argv);  // may re-execute this program once with OpenBLAS's fast kernels
  CLI::App app{"emogene: turns speech audio into an emotional talking-head video", "emogene"};
  app.require_subcommand(0, 1);
  app.set_help_all_flag("--help-all", "Print help for every subcommand");
  bool show_version = false;
  int threads_opt = 0, verbose = 0;
  bool quiet = false;
  app.add_flag("--version", show_version, "Print versions, the live BLAS, CPU features and threads, then exit");
  app.add_option("--threads", threads_opt, "Compute threads for everything (default: all cores)")
      ->check(CLI::Range(0, 4096));
  app.add_flag("-v,--verbose", verbose, "More detail (repeat for trace)");
  app.add_flag("-q,--quiet", quiet, "Only errors");

  cli::RunFn run;
  cli::setup_info(app, run);
  cli::setup_synth(app, run);
  cli::setup_prepare(app, run);
  cli::setup_render(app, run);
  cli::setup_batch(app, run);
  cli::setup_features(app, run);
  cli::setup_bench(app, run);
  cli::setup_train(app, run);
  cli::setup_eval(app, run);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line: what is wrong and where to look.
    std::fprintf(stderr, "emogene: %s (see emogene --help)\n", e.what());
    return 2;
  }

  try {
    setup_logging(quiet ? -1 : verbose);
    ff::set_log_level(verbose > 0);
    install_interrupt_handlers();
    int n = set_threads(threads_opt);
    std::string cmdline;
    for (int i = 0; i < argc; ++i) cmdline += (i ? " " : "") + std::string(argv[i]);
    spdlog::debug("command line: {}", cmdline);
    spdlog::debug("threads: {}", n);
    if (show_version) {
      cli::print_version();
      return 0;
    }
    if (!run) {
      std::fputs(app.help().c_str(), stdout);
      return 0;
    }
    run();
    return 0;
  } catch (const Error& e) {
    spdlog::shutdown();
    std::fprintf(stderr, "emogene: %s\n", e.what());
    return e.exit_code();
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "emogene: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "emogene: internal error: %s\n", e.what());
    return 1;
  }
}
