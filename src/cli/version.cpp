// `emogene --version`.
#include <cstdio>

#include "cli/commands.h"
#include "emogene/audio/ffmpeg.h"
#include "emogene/core/build_info.h"
#include "emogene/core/log.h"
#include "emogene/core/runtime.h"

namespace emogene::cli {

void print_version() {
  BlasInfo blas = live_blas();
  std::printf("emogene %s (git %s)\n", version_string(), git_commit());
  std::printf("LibTorch %s%s\n", torch_version().c_str(), cuda_available() ? ", CUDA available" : ", CPU only");
  std::printf("FFmpeg %s (libavcodec %s, libavformat %s)\n", ff::version().c_str(), AV_STRINGIFY(LIBAVCODEC_VERSION),
              AV_STRINGIFY(LIBAVFORMAT_VERSION));
  std::printf("BLAS: %s%s%s\n", blas.name.c_str(), blas.path.empty() ? "" : ", ", blas.path.c_str());
  if (!blas.details.empty()) std::printf("BLAS config: %s\n", blas.details.c_str());
  if (log_verbosity() > 0) std::printf("matmul 512^3: %.1f GFLOP/s\n", measure_matmul_gflops(512));
  std::printf("CPU: %s\n", cpu_features().c_str());
  std::printf("threads: %d (of %d cores)\n", threads(), hardware_threads());
  if (blas.reference)
    std::fprintf(stderr,
                 "emogene: warning: the reference (netlib) BLAS is live: matrix products run ~50x slower; "
                 "install libopenblas0-openmp (tools/setup does)\n");
}

}  // namespace emogene::cli
