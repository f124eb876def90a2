// `emogene batch` (DESIGN §8): a folder of audio to a folder of MP4s mirroring its layout, with the
// models loaded once.
//  - Files: every audio file under --audio-dir (recursive, sorted), or the rows of a --manifest CSV
//    (RFC 4180; columns path,emotion,seed with a header row; path relative to --audio-dir or
//    absolute; an empty emotion or seed takes the run's).
//  - Output: OUTDIR/<relative path with its extension replaced by .mp4>. Outputs are renamed into
//    place only when complete, so an existing output is a finished one and is skipped on a rerun.
//  - Shards: with --shard I/N a file belongs to shard FNV-1a-64(relative path, UTF-8) mod N, so N
//    machines share one folder with no coordination.
//  - A failing file (bad audio, a bad spec, ...) is reported and the rest go on; the report
//    (OUTDIR/report.json, or report-I-of-N.json for a shard) lists each file with its status
//    ("done", "skipped", "failed"), reason, audio duration and seconds taken.
//  - --jobs J renders J files at once, each with threads/J of the budget.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "emogene/pipeline/render.h"

namespace emogene::pipeline {

struct BatchOptions {
  std::string audio_dir, out_dir, manifest;
  RenderJob defaults;      // emotion, seed, temperature, fps, size, idle (audio, out, dump unused)
  int shard_index = 0, shard_count = 1;
  int jobs = 1;
  int threads = 1;         // the whole budget (--threads)
};

struct BatchItem {
  std::string path;        // as found or as the manifest names it
  std::string relative;    // relative to the audio folder (the shard key)
  std::string out;
  std::string emotion;
  std::uint64_t seed = 0;
  std::string status = "pending";  // done | skipped | failed
  std::string reason;
  double duration = 0, seconds = 0;
};

struct BatchReport {
  std::vector<BatchItem> items;  // this shard's files
  std::int64_t done = 0, skipped = 0, failed = 0;
  std::string report_path;
};

// Parses "I/N" (0 <= I < N): bad_input naming --shard otherwise.
void parse_shard(const std::string& text, int& index, int& count);
// The shard of a relative path.
int shard_of(const std::string& relative, int count);
// RFC 4180 rows (quoted fields with "" escapes, commas and newlines inside quotes).
std::vector<std::vector<std::string>> parse_csv(const std::string& text, const std::string& where);

// Every file of the run, before sharding (status "pending"): from the folder or the manifest,
// with its relative path, output, emotion and seed. bad_input naming the folder or manifest.
std::vector<BatchItem> list_items(const BatchOptions& opt);

BatchReport run_batch(const Models& models, const BatchOptions& opt);

}  // namespace emogene::pipeline
