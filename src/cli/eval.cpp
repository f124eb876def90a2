// `emogene eval`: the quality metrics of DESIGN §7 that the inputs allow. So far: an a2m checkpoint
// (--pred) against a dataset (--ref): M-LMD, F-LMD, lip-gap correlation, closures at p/b/m.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "emogene/core/error.h"
#include "emogene/core/safetensors.h"
#include "emogene/motion/a2m_io.h"

namespace emogene::cli {

void setup_eval(CLI::App& app, RunFn& run) {
  struct Args {
    std::string pred, ref, split = "test";
    double temperature = 0;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* sub = app.add_subcommand("eval", "Quality metrics (DESIGN §7). --pred an a2m checkpoint, --ref a dataset: "
                                             "M-LMD and F-LMD (IOD units and px at 256²), lip-gap correlation, lip "
                                             "closure at p/b/m midpoints, on a split");
  sub->add_option("--pred", a->pred, "What to measure: an a2m checkpoint")->required();
  sub->add_option("--ref", a->ref, "Reference: a dataset folder with landmarks_neutral.npy")->required();
  sub->add_option("--split", a->split, "Dataset split")->capture_default_str();
  sub->add_option("--temperature", a->temperature, "Latent temperature (0 = the prior's mean)")->capture_default_str();
  sub->add_flag("--json", a->json, "Print JSON instead of a table");
  sub->callback([a, &run] {
    run = [a] {
      SafetensorsFile f(a->pred);
      if (f.meta("emogene.kind") != "a2m")
        throw bad_input(a->pred, "eval measures a2m checkpoints so far (this is '" + f.meta("emogene.kind") + "')");
      motion::A2MModel m(a->pred);
      features::ExtractorOptions xo;
      xo.kind = m.front_end().extractor;
      xo.weights = m.front_end().weights;
      xo.layer = m.front_end().layer;
      auto ex = features::make_extractor(xo);
      motion::A2MEval e = motion::evaluate_a2m(m, a->ref, a->split, *ex, a->temperature);
      nlohmann::json j = {{"split", a->split}, {"clips", e.clips}, {"frames", e.frames}, {"m_lmd_iod", e.m_lmd},
                          {"m_lmd_px256", e.m_lmd_px}, {"f_lmd_iod", e.f_lmd}, {"lip_gap_r", e.lip_gap_r},
                          {"bilabials", e.bilabials}, {"closed_at_bilabials", e.closed_at_bilabials}};
      if (a->json) {
        std::printf("%s\n", j.dump(1).c_str());
        return;
      }
      std::printf("split %s: %lld clips, %lld frames\n", a->split.c_str(), static_cast<long long>(e.clips), static_cast<long long>(e.frames));
      std::printf("M-LMD        %.4f IOD  (%.2f px at 256x256)\nF-LMD        %.4f IOD\nlip-gap r    %.3f\n", e.m_lmd,
                  e.m_lmd_px, e.f_lmd, e.lip_gap_r);
      std::printf("p/b/m closed %.1f%% of %lld\n", 100 * e.closed_at_bilabials, static_cast<long long>(e.bilabials));
    };
  });
}

}  // namespace emogene::cli
