// pipeline/batch: --shard parsing, the shard key (FNV-1a 64 of the relative path) and the partition
// it makes, RFC 4180 manifests, the file list from a folder or a manifest, and run_batch's own
// bookkeeping (skipped and failed files, one report per shard) with the bundled models, no render.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "emogene/pipeline/batch.h"
#include "testutil.h"

using namespace emogene;
using pipeline::BatchItem;
using pipeline::BatchOptions;
namespace fs = std::filesystem;

using Rows = std::vector<std::vector<std::string>>;

TEST(BatchShard, ParsesIOfN) {
  int i = -1, n = -1;
  pipeline::parse_shard("0/3", i, n);
  EXPECT_EQ(i, 0);
  EXPECT_EQ(n, 3);
  pipeline::parse_shard("11/12", i, n);
  EXPECT_EQ(i, 11);
  EXPECT_EQ(n, 12);
  pipeline::parse_shard("0/1", i, n);
  EXPECT_EQ(i, 0);
  EXPECT_EQ(n, 1);
  for (const char* bad : {"3/3", "-1/3", "0/0", "1/-2", "a/3", "1/b", "1", "", "/", "1/3x", "1x/3", "1/3/4"}) {
    const std::string m = test::bad_input_message([&] { pipeline::parse_shard(bad, i, n); });
    EXPECT_NE(m.find("--shard"), std::string::npos) << bad << ": " << m;
    EXPECT_NE(m.find(std::string("'") + bad + "'"), std::string::npos) << bad << ": " << m;
  }
}

TEST(BatchShard, KeyIsFnv1a64OfThePathBytes) {
  // FNV-1a 64 reference values: "" → cbf29ce484222325, "a" → af63dc4c8601ec8c,
  // "foobar" → 85944171f73967e8.
  for (int n : {1, 2, 3, 7, 1000, 2147483647}) {
    const auto N = static_cast<std::uint64_t>(n);
    EXPECT_EQ(pipeline::shard_of("", n), static_cast<int>(0xcbf29ce484222325ull % N)) << n;
    EXPECT_EQ(pipeline::shard_of("a", n), static_cast<int>(0xaf63dc4c8601ec8cull % N)) << n;
    EXPECT_EQ(pipeline::shard_of("foobar", n), static_cast<int>(0x85944171f73967e8ull % N)) << n;
  }
  // The key is the path as given (UTF-8 bytes, '/' separators): a different spelling is another key.
  EXPECT_NE(pipeline::shard_of("talks/a.wav", 2147483647), pipeline::shard_of("talks\\a.wav", 2147483647));
  EXPECT_NE(pipeline::shard_of("caf\xc3\xa9.wav", 2147483647), pipeline::shard_of("cafe.wav", 2147483647));
}

TEST(BatchShard, PartitionsEveryPathIntoExactlyOneShardEvenly) {
  std::vector<std::string> paths;
  for (int d = 0; d < 30; ++d)
    for (int f = 0; f < 100; ++f) paths.push_back("speaker_" + std::to_string(d) + "/take " + std::to_string(f) + ".wav");
  for (int n : {1, 2, 3, 5}) {
    std::vector<int> per(static_cast<std::size_t>(n), 0);
    for (const auto& p : paths) {
      const int s = pipeline::shard_of(p, n);
      ASSERT_GE(s, 0);
      ASSERT_LT(s, n);
      EXPECT_EQ(pipeline::shard_of(p, n), s);  // a function of the path alone
      ++per[static_cast<std::size_t>(s)];
    }
    // 3000 paths: each shard within 15% of 3000/n (binomial spread is ~2-3%).
    for (int c : per) {
      EXPECT_GT(c, 0.85 * 3000 / n) << n;
      EXPECT_LT(c, 1.15 * 3000 / n) << n;
    }
  }
}

TEST(BatchManifest, ParsesRfc4180) {
  EXPECT_EQ(pipeline::parse_csv("path,emotion,seed\na.wav,happy,3\n", "m.csv"),
            (Rows{{"path", "emotion", "seed"}, {"a.wav", "happy", "3"}}));
  // CRLF, no final newline, blank lines skipped.
  EXPECT_EQ(pipeline::parse_csv("a,b\r\n\r\n\nc,d", "m.csv"), (Rows{{"a", "b"}, {"c", "d"}}));
  // Quoted fields: commas, "" escapes, newlines inside; an empty quoted field.
  EXPECT_EQ(pipeline::parse_csv("\"x, y.wav\",\"say \"\"hi\"\"\",\"\"\n\"two\nlines.wav\",sad\n", "m.csv"),
            (Rows{{"x, y.wav", "say \"hi\"", ""}, {"two\nlines.wav", "sad"}}));
  // Empty fields keep their place.
  EXPECT_EQ(pipeline::parse_csv("a,,3\n,\na,\n", "m.csv"), (Rows{{"a", "", "3"}, {"", ""}, {"a", ""}}));
  EXPECT_EQ(pipeline::parse_csv("\"\"\n", "m.csv"), (Rows{{""}}));
  EXPECT_TRUE(pipeline::parse_csv("", "m.csv").empty());
  EXPECT_TRUE(pipeline::parse_csv("\n\r\n", "m.csv").empty());
  // Spaces are data.
  EXPECT_EQ(pipeline::parse_csv(" a , b \n", "m.csv"), (Rows{{" a ", " b "}}));

  std::string m = test::bad_input_message([] { pipeline::parse_csv("path\n\"open.wav,happy\n", "m.csv"); });
  EXPECT_NE(m.find("m.csv"), std::string::npos) << m;
  EXPECT_NE(m.find("a quoted field is not closed"), std::string::npos) << m;
  m = test::bad_input_message([] { pipeline::parse_csv("path\nab\"c.wav\n", "m.csv"); });
  EXPECT_NE(m.find("a quote inside an unquoted field (row 2)"), std::string::npos) << m;
}

namespace {

void touch(const std::string& path) {
  fs::create_directories(fs::path(path).parent_path());
  test::write_text(path, "x");
}

}  // namespace

TEST(BatchItems, FromAFolderRecursiveSortedMirrored) {
  const std::string d = test::temp_dir();
  touch(d + "/in/b.wav");
  touch(d + "/in/a/z.FLAC");
  touch(d + "/in/a/notes.txt");
  touch(d + "/in/c/d/e.mp3");
  BatchOptions o;
  o.audio_dir = d + "/in";
  o.out_dir = d + "/out";
  o.defaults.emotion = "happy:0.5";
  o.defaults.seed = 9;
  const std::vector<BatchItem> items = pipeline::list_items(o);
  ASSERT_EQ(items.size(), 3u);
  const std::vector<std::string> rel = {items[0].relative, items[1].relative, items[2].relative};
  EXPECT_EQ(rel, (std::vector<std::string>{"a/z.FLAC", "b.wav", "c/d/e.mp3"}));
  EXPECT_EQ(items[0].path, d + "/in/a/z.FLAC");
  EXPECT_EQ(items[0].out, d + "/out/a/z.mp4");
  EXPECT_EQ(items[2].out, d + "/out/c/d/e.mp4");
  for (const auto& it : items) {
    EXPECT_EQ(it.emotion, "happy:0.5");
    EXPECT_EQ(it.seed, 9u);
    EXPECT_EQ(it.status, "pending");
  }
  fs::create_directories(d + "/none/sub");
  touch(d + "/none/sub/readme.txt");
  o.audio_dir = d + "/none";
  EXPECT_NE(test::bad_input_message([&] { pipeline::list_items(o); }).find("has no audio files"), std::string::npos);
  o.audio_dir = d + "/missing";
  EXPECT_NE(test::bad_input_message([&] { pipeline::list_items(o); }).find("is not a folder"), std::string::npos);
}

TEST(BatchItems, FromAManifest) {
  const std::string d = test::temp_dir();
  const std::string abs_in = d + "/in/x/abs.wav", abs_out = d + "/elsewhere/far.wav";
  const std::string csv = "path,emotion,seed\n"
                          "talk.wav,,\n"
                          "\"x/with, comma.wav\",\"happy:1,sad:0.5\",42\n"
                          "sub/t.ogg,surprised\n" +
                          abs_in + ",,7\n" + abs_out + "\n";
  test::write_text(d + "/m.csv", csv);
  BatchOptions o;
  o.audio_dir = d + "/in";
  o.out_dir = d + "/out";
  o.manifest = d + "/m.csv";
  o.defaults.emotion = "neutral";
  o.defaults.seed = 5;
  const std::vector<BatchItem> items = pipeline::list_items(o);  // in the manifest's order; files need not exist yet
  ASSERT_EQ(items.size(), 5u);
  EXPECT_EQ(items[0].path, (fs::path(d + "/in") / "talk.wav").string());
  EXPECT_EQ(items[0].relative, "talk.wav");
  EXPECT_EQ(items[0].emotion, "neutral");  // empty: the run's
  EXPECT_EQ(items[0].seed, 5u);
  EXPECT_EQ(items[0].out, d + "/out/talk.mp4");
  EXPECT_EQ(items[1].relative, "x/with, comma.wav");
  EXPECT_EQ(items[1].emotion, "happy:1,sad:0.5");
  EXPECT_EQ(items[1].seed, 42u);
  EXPECT_EQ(items[1].out, d + "/out/x/with, comma.mp4");
  EXPECT_EQ(items[2].emotion, "surprised");
  EXPECT_EQ(items[2].seed, 5u);  // a missing column: the run's
  EXPECT_EQ(items[2].out, d + "/out/sub/t.mp4");
  // Absolute: kept; the key is relative to the audio folder when inside it, else the file name.
  EXPECT_EQ(items[3].path, abs_in);
  EXPECT_EQ(items[3].relative, "x/abs.wav");
  EXPECT_EQ(items[3].seed, 7u);
  EXPECT_EQ(items[4].path, abs_out);
  EXPECT_EQ(items[4].relative, "far.wav");
  EXPECT_EQ(items[4].out, d + "/out/far.mp4");
  // Without --audio-dir, relative rows stay as written.
  o.audio_dir.clear();
  EXPECT_EQ(pipeline::list_items(o)[0].path, "talk.wav");

  auto refused = [&](const std::string& text) {
    test::write_text(d + "/bad.csv", text);
    BatchOptions b = o;
    b.manifest = d + "/bad.csv";
    return test::bad_input_message([&] { pipeline::list_items(b); });
  };
  EXPECT_NE(refused("file,emotion\na.wav\n").find("the first row must be the header path,emotion,seed"), std::string::npos);
  EXPECT_NE(refused("").find("the first row must be the header"), std::string::npos);
  EXPECT_NE(refused("path\n").find("lists no files"), std::string::npos);
  EXPECT_NE(refused("path,emotion,seed\na.wav\n,happy\n").find("row 3 has no path"), std::string::npos);
  EXPECT_NE(refused("path,emotion,seed\na.wav,happy,1,extra\n").find("row 2 has more than 3 columns"), std::string::npos);
  for (const char* seed : {"-1", "+1", " 1", "1.5", "x", "3 ", "99999999999999999999"}) {
    const std::string m = refused(std::string("path,emotion,seed\na.wav,happy,") + seed + "\n");
    EXPECT_NE(m.find(std::string("row 2: seed '") + seed + "' is not a non-negative integer"), std::string::npos) << m;
  }
  EXPECT_NE(refused("path\n\"a.wav\n").find("bad.csv"), std::string::npos);
}

TEST(BatchRun, SkipsFinishedFailsBadAudioAndReportsPerShard) {
  const std::string d = test::temp_dir();
  const std::string in = d + "/in";
  // Nothing here renders: every file is either already done or not audio.
  std::vector<std::string> names;
  for (int k = 0; k < 8; ++k) names.push_back((k % 2 ? "sub/" : "") + std::string("f") + std::to_string(k) + ".wav");
  for (const auto& n : names) touch(in + "/" + n);
  touch(d + "/out/f0.mp4");  // finished earlier
  touch(d + "/out/sub/f1.mp4");
  pipeline::Models models{pipeline::ModelOptions{}};
  BatchOptions o;
  o.audio_dir = in;
  o.out_dir = d + "/out";
  o.defaults.emotion = "sad";
  o.defaults.seed = 3;
  std::set<std::string> seen;
  for (int s = 0; s < 3; ++s) {
    o.shard_index = s;
    o.shard_count = 3;
    const pipeline::BatchReport r = pipeline::run_batch(models, o);
    EXPECT_EQ(r.report_path, d + "/out/report-" + std::to_string(s) + "-of-3.json");
    std::int64_t skipped = 0;
    for (const auto& it : r.items) {
      EXPECT_EQ(pipeline::shard_of(it.relative, 3), s) << it.relative;
      EXPECT_TRUE(seen.insert(it.relative).second) << it.relative << " in two shards";
      const bool done_before = it.relative == "f0.wav" || it.relative == "sub/f1.wav";
      EXPECT_EQ(it.status, done_before ? "skipped" : "failed") << it.relative;
      if (done_before) {
        ++skipped;
        EXPECT_EQ(it.reason, "already rendered");
      } else {
        EXPECT_NE(it.reason.find(it.path), std::string::npos) << it.reason;
        EXPECT_FALSE(fs::exists(it.out)) << "no output for a failed file";
      }
    }
    EXPECT_EQ(r.skipped, skipped);
    EXPECT_EQ(r.failed, static_cast<std::int64_t>(r.items.size()) - skipped);
    EXPECT_EQ(r.done, 0);
    const nlohmann::json j = nlohmann::json::parse(test::read_text(r.report_path));
    EXPECT_EQ(j["shard"], std::to_string(s) + "/3");
    EXPECT_EQ(j["skipped"].get<std::int64_t>(), r.skipped);
    EXPECT_EQ(j["failed"].get<std::int64_t>(), r.failed);
    ASSERT_EQ(j["files"].size(), r.items.size());
    for (std::size_t k = 0; k < r.items.size(); ++k) {
      EXPECT_EQ(j["files"][k]["path"], r.items[k].relative);
      EXPECT_EQ(j["files"][k]["status"], r.items[k].status);
      EXPECT_EQ(j["files"][k]["emotion"], "sad");
      EXPECT_EQ(j["files"][k]["seed"], 3);
    }
  }
  EXPECT_EQ(seen.size(), names.size());  // the three shards cover every file once
  EXPECT_FALSE(fs::exists(d + "/out/report.json"));
  // One shard: report.json.
  o.shard_index = 0;
  o.shard_count = 1;
  o.jobs = 3;
  const pipeline::BatchReport all = pipeline::run_batch(models, o);
  EXPECT_EQ(all.report_path, d + "/out/report.json");
  EXPECT_EQ(all.items.size(), names.size());
  EXPECT_EQ(all.skipped, 2);
  EXPECT_EQ(all.failed, 6);
  o.jobs = 0;
  EXPECT_NE(test::bad_input_message([&] { pipeline::run_batch(models, o); }).find("--jobs"), std::string::npos);
}
