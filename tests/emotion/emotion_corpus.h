// A tiny synthetic corpus shared by the emotion model tests (made once per test binary).
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

#include "emogene/synth/synth.h"
#include "testutil.h"

namespace emogene::test {

inline const std::string& emotion_corpus() {
  static const std::string dir = [] {
    // One per process: ctest may run several tests of this binary at once.
    const std::string d =
        (std::filesystem::path(temp_dir()).parent_path() / ("emotion_model_corpus_" + std::to_string(::getpid()))).string();
    synth::SynthOptions so;
    so.out = d;
    so.seconds = 60;
    so.identities = 3;
    so.emotions = "neutral,happy,sad,surprised";
    so.seed = 5;
    so.force = true;
    synth::run_synth(so);
    return d;
  }();
  return dir;
}

}  // namespace emogene::test
