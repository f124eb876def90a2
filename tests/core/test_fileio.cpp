#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "emogene/core/error.h"
#include "emogene/core/fileio.h"
#include "emogene/core/interrupt.h"
#include "testutil.h"

using namespace emogene;

TEST(FileIo, AtomicOutputAppearsOnlyOnCommit) {
  std::string d = test::temp_dir();
  {
    AtomicOutput out(d + "/result.bin");
    FILE* f = std::fopen(out.temp_path().c_str(), "wb");
    std::fputs("partial", f);
    std::fclose(f);
    EXPECT_FALSE(file_exists(d + "/result.bin"));
    // no commit: an error happened
  }
  EXPECT_FALSE(file_exists(d + "/result.bin"));
  EXPECT_TRUE(std::filesystem::is_empty(d));
  {
    AtomicOutput out(d + "/result.bin");
    FILE* f = std::fopen(out.temp_path().c_str(), "wb");
    std::fputs("done", f);
    std::fclose(f);
    out.commit();
  }
  EXPECT_EQ(read_file(d + "/result.bin"), (std::vector<std::uint8_t>{'d', 'o', 'n', 'e'}));
}

TEST(FileIo, ErrorsNameTheFile) {
  std::string d = test::temp_dir();
  try {
    read_file(d + "/nope");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::BadInput);
    EXPECT_EQ(std::string(e.what()), d + "/nope: no such file");
    EXPECT_EQ(e.exit_code(), 2);
  }
  EXPECT_THROW(AtomicOutput(d + "/missing_dir/x"), Error);
  MappedFile empty_map((test::write_bytes(d + "/e", {}), d + "/e"));
  EXPECT_EQ(empty_map.size(), 0u);
}

TEST(FileIo, ExitCodes) {
  EXPECT_EQ(bad_input("f", "x").exit_code(), 2);
  EXPECT_EQ(internal_error("f", "x").exit_code(), 1);
  EXPECT_EQ(Error(ErrorKind::Interrupted, "x").exit_code(), 130);
  set_interrupted(true);
  EXPECT_THROW(throw_if_interrupted("loop"), Error);
  set_interrupted(false);
  EXPECT_NO_THROW(throw_if_interrupted("loop"));
}

TEST(FileIo, ContentHashIdentifiesContents) {
  const std::string dir = test::temp_dir();
  std::vector<std::uint8_t> bytes = test::random_bytes(3 * (1 << 20) + 13, 7);  // spans read chunks, odd tail
  test::write_bytes(dir + "/a.bin", bytes);
  test::write_bytes(dir + "/b.bin", bytes);
  const std::string h = content_hash(dir + "/a.bin");
  EXPECT_EQ(h.size(), 16u);
  EXPECT_EQ(h, content_hash(dir + "/b.bin"));
  bytes[2 * (1 << 20) + 5] ^= 1;  // one bit
  test::write_bytes(dir + "/b.bin", bytes);
  EXPECT_NE(h, content_hash(dir + "/b.bin"));
  bytes.pop_back();  // in the odd tail
  test::write_bytes(dir + "/b.bin", bytes);
  EXPECT_NE(h, content_hash(dir + "/b.bin"));
  // Empty input: the FNV-1a offset basis.
  test::write_bytes(dir + "/empty", {});
  EXPECT_EQ(content_hash(dir + "/empty"), "cbf29ce484222325");
  // A folder: its files' names and contents.
  std::filesystem::create_directories(dir + "/m1");
  std::filesystem::create_directories(dir + "/m2");
  test::write_text(dir + "/m1/config.json", "{}");
  test::write_text(dir + "/m2/config.json", "{}");
  EXPECT_EQ(content_hash(dir + "/m1"), content_hash(dir + "/m2"));
  test::write_text(dir + "/m2/other.json", "{}");
  EXPECT_NE(content_hash(dir + "/m1"), content_hash(dir + "/m2"));
  EXPECT_NE(test::bad_input_message([&] { content_hash(dir + "/missing"); }).find("missing"), std::string::npos);
}
