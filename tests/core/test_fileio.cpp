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
