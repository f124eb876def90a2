// `emogene batch` (batch.h).
#include "emogene/pipeline/batch.h"

#include <ATen/Parallel.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "emogene/audio/audio.h"
#include "emogene/core/error.h"
#include "emogene/core/fileio.h"
#include "emogene/core/interrupt.h"
#include "emogene/core/progress.h"

namespace fs = std::filesystem;

namespace emogene::pipeline {

void parse_shard(const std::string& text, int& index, int& count) {
  const auto slash = text.find('/');
  try {
    if (slash == std::string::npos) throw std::invalid_argument("no slash");
    std::size_t a = 0, b = 0;
    index = std::stoi(text.substr(0, slash), &a);
    count = std::stoi(text.substr(slash + 1), &b);
    if (a != slash || b != text.size() - slash - 1) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    throw bad_input("--shard", "'" + text + "' is not I/N (for example 0/3)");
  }
  if (count < 1 || index < 0 || index >= count) throw bad_input("--shard", "'" + text + "' needs 0 <= I < N");
}

int shard_of(const std::string& relative, int count) {
  std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64 offset basis
  for (unsigned char c : relative) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<int>(h % static_cast<std::uint64_t>(count));
}

std::vector<std::vector<std::string>> parse_csv(const std::string& text, const std::string& where) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, any = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        field += c;
      }
      continue;
    }
    if (c == '"') {
      if (!field.empty()) throw bad_input(where, "a quote inside an unquoted field (row " + std::to_string(rows.size() + 1) + ")");
      quoted = any = true;
    } else if (c == ',') {
      row.push_back(field);
      field.clear();
      any = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      if (any || !field.empty()) {
        row.push_back(field);
        rows.push_back(row);
      }
      row.clear();
      field.clear();
      any = false;
    } else {
      field += c;
      any = true;
    }
  }
  if (quoted) throw bad_input(where, "a quoted field is not closed");
  if (any || !field.empty()) {
    row.push_back(field);
    rows.push_back(row);
  }
  return rows;
}

namespace {

// A run killed during an encode leaves its AtomicOutput temporary (".NAME.tmpPID.N", core/fileio.h)
// beside the output; the rerun that renders NAME again removes it (each output is rendered by one
// job and one shard only, so no live writer owns it).
void remove_stale_temporaries(const std::string& out) {
  const fs::path p(out);
  const std::string prefix = "." + p.filename().string() + ".tmp";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(p.parent_path().empty() ? fs::path(".") : p.parent_path(), ec))
    if (e.path().filename().string().rfind(prefix, 0) == 0) fs::remove(e.path(), ec);
}

std::string relative_to(const std::string& path, const std::string& dir) {
  std::error_code ec;
  const fs::path rel = fs::relative(fs::weakly_canonical(path, ec), fs::weakly_canonical(dir, ec), ec);
  if (ec || rel.empty() || rel.native().rfind("..", 0) == 0) return fs::path(path).filename().string();
  return rel.generic_string();
}

}  // namespace

std::vector<BatchItem> list_items(const BatchOptions& opt) {
  std::vector<BatchItem> items;
  if (opt.manifest.empty()) {
    if (!fs::is_directory(opt.audio_dir)) throw bad_input(opt.audio_dir, "is not a folder");
    for (const auto& p : audio::list_audio_files(opt.audio_dir)) {
      BatchItem it;
      it.path = p;
      it.relative = relative_to(p, opt.audio_dir);
      it.emotion = opt.defaults.emotion;
      it.seed = opt.defaults.seed;
      items.push_back(it);
    }
    if (items.empty()) throw bad_input(opt.audio_dir, "has no audio files");
  } else {
    const std::vector<std::uint8_t> bytes = read_file(opt.manifest);
    const auto rows = parse_csv(std::string(bytes.begin(), bytes.end()), opt.manifest);
    if (rows.empty() || rows[0].empty() || rows[0][0] != "path")
      throw bad_input(opt.manifest, "the first row must be the header path,emotion,seed");
    for (std::size_t r = 1; r < rows.size(); ++r) {
      const auto& row = rows[r];
      if (row.empty() || row[0].empty()) throw bad_input(opt.manifest, "row " + std::to_string(r + 1) + " has no path");
      if (row.size() > 3) throw bad_input(opt.manifest, "row " + std::to_string(r + 1) + " has more than 3 columns");
      BatchItem it;
      const fs::path p(row[0]);
      it.path = p.is_absolute() || opt.audio_dir.empty() ? row[0] : (fs::path(opt.audio_dir) / p).string();
      it.relative = p.is_absolute() ? relative_to(row[0], opt.audio_dir.empty() ? "." : opt.audio_dir) : p.generic_string();
      it.emotion = row.size() > 1 && !row[1].empty() ? row[1] : opt.defaults.emotion;
      it.seed = opt.defaults.seed;
      if (row.size() > 2 && !row[2].empty()) {
        try {
          std::size_t n = 0;
          if (!std::isdigit(static_cast<unsigned char>(row[2][0]))) throw std::invalid_argument("sign");  // stoull takes "-1"
          it.seed = std::stoull(row[2], &n);
          if (n != row[2].size()) throw std::invalid_argument("trailing");
        } catch (const std::exception&) {
          throw bad_input(opt.manifest, "row " + std::to_string(r + 1) + ": seed '" + row[2] + "' is not a non-negative integer");
        }
      }
      items.push_back(it);
    }
    if (items.empty()) throw bad_input(opt.manifest, "lists no files");
  }
  for (auto& it : items) it.out = (fs::path(opt.out_dir) / fs::path(it.relative).replace_extension(".mp4")).string();
  return items;
}

BatchReport run_batch(const Models& models, const BatchOptions& opt) {
  check_input(opt.jobs >= 1, "--jobs", "must be at least 1");
  check_input(opt.shard_count >= 1 && opt.shard_index >= 0 && opt.shard_index < opt.shard_count, "--shard", "needs 0 <= I < N");
  BatchReport rep;
  for (auto& it : list_items(opt))
    if (shard_of(it.relative, opt.shard_count) == opt.shard_index) rep.items.push_back(it);
  fs::create_directories(opt.out_dir);
  rep.report_path = (fs::path(opt.out_dir) / (opt.shard_count == 1 ? std::string("report.json")
                                                                    : "report-" + std::to_string(opt.shard_index) + "-of-" +
                                                                          std::to_string(opt.shard_count) + ".json"))
                        .string();
  const int jobs = std::max(1, std::min<int>(opt.jobs, static_cast<int>(rep.items.size())));
  const int per_job = std::max(1, opt.threads / jobs);
  Progress progress("batch", static_cast<std::int64_t>(rep.items.size()), "files");
  std::atomic<std::size_t> next{0};
  std::atomic<std::int64_t> finished{0};
  std::mutex mu;
  std::string fatal;
  auto worker = [&] {
    at::set_num_threads(per_job);
    for (;;) {
      const std::size_t k = next.fetch_add(1);
      if (k >= rep.items.size() || interrupted()) return;
      BatchItem& it = rep.items[k];
      const auto t0 = std::chrono::steady_clock::now();
      if (fs::exists(it.out)) {
        it.status = "skipped";
        it.reason = "already rendered";
      } else {
        try {
          fs::create_directories(fs::path(it.out).parent_path());
          remove_stale_temporaries(it.out);
          RenderJob job = opt.defaults;
          job.audio = it.path;
          job.out = it.out;
          job.emotion = it.emotion;
          job.seed = it.seed;
          job.dump.clear();
          job.landmarks.clear();
          const RenderReport r = render(models, job);
          it.status = "done";
          it.duration = r.audio_seconds;
        } catch (const Error& e) {
          if (e.kind() == ErrorKind::Interrupted) return;
          it.status = "failed";
          it.reason = e.what();
          spdlog::error("batch: {}", e.what());
        } catch (const std::exception& e) {
          it.status = "failed";
          it.reason = e.what();
          spdlog::error("batch: {}: {}", it.path, e.what());
        }
      }
      it.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::lock_guard<std::mutex> lock(mu);
      progress.update(++finished);
    }
  };
  std::vector<std::thread> pool;
  for (int j = 1; j < jobs; ++j) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  progress.finish();
  nlohmann::json files = nlohmann::json::array();
  for (const auto& it : rep.items) {
    if (it.status == "done") ++rep.done;
    if (it.status == "skipped") ++rep.skipped;
    if (it.status == "failed") ++rep.failed;
    files.push_back({{"path", it.relative}, {"output", it.out}, {"status", it.status}, {"reason", it.reason},
                     {"emotion", it.emotion}, {"seed", it.seed}, {"duration", it.duration}, {"seconds", it.seconds}});
  }
  const nlohmann::json j = {{"shard", std::to_string(opt.shard_index) + "/" + std::to_string(opt.shard_count)},
                            {"done", rep.done}, {"skipped", rep.skipped}, {"failed", rep.failed}, {"files", files}};
  const std::string text = j.dump(2) + "\n";
  write_file_atomic(rep.report_path, text.data(), text.size());
  throw_if_interrupted("batch " + opt.out_dir);
  return rep;
}

}  // namespace emogene::pipeline
