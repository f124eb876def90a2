#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "emogene/core/config.h"
#include "emogene/core/error.h"
#include "testutil.h"

using namespace emogene;
using nlohmann::json;

TEST(Config, ParentInheritanceRelativeToFile) {
  std::string d = test::temp_dir();
  std::filesystem::create_directories(d + "/base");
  std::filesystem::create_directories(d + "/a2m");
  test::write_text(d + "/base/common.json", R"({"optim": {"lr": 0.001, "betas": [0.9, 0.999]}, "steps": 100, "name": "base"})");
  test::write_text(d + "/a2m/mid.json", R"({"parent": "../base/common.json", "optim": {"lr": 0.0005}, "model": {"latent": 16}})");
  test::write_text(d + "/a2m/top.json", R"({"parent": "mid.json", "steps": 2000, "model": {"width": 256}})");
  json c = load_config(d + "/a2m/top.json");
  EXPECT_FALSE(c.contains("parent"));
  EXPECT_EQ(c["optim"]["lr"], 0.0005);
  EXPECT_EQ(c["optim"]["betas"][1], 0.999);
  EXPECT_EQ(c["steps"], 2000);
  EXPECT_EQ(c["name"], "base");
  EXPECT_EQ(c["model"]["latent"], 16);
  EXPECT_EQ(c["model"]["width"], 256);
}

TEST(Config, SetOverrides) {
  json c = {{"optim", {{"lr", 0.001}}}, {"name", "x"}};
  apply_overrides(c, {"optim.lr=0.01", "optim.sched.kind=cosine", "name=\"quoted\"", "list=[1,2]", "flag=true",
                      "text=hello world"});
  EXPECT_EQ(c["optim"]["lr"], 0.01);
  EXPECT_EQ(c["optim"]["sched"]["kind"], "cosine");
  EXPECT_EQ(c["name"], "quoted");
  EXPECT_EQ(c["list"], json::array({1, 2}));
  EXPECT_EQ(c["flag"], true);
  EXPECT_EQ(c["text"], "hello world");
  EXPECT_THROW(apply_override(c, "noequals"), Error);
  EXPECT_THROW(apply_override(c, "=3"), Error);
  EXPECT_THROW(apply_override(c, "name.sub=3"), Error);  // name is a string, not an object
  EXPECT_THROW(apply_override(c, "a..b=3"), Error);
  EXPECT_EQ(config_at(c, "optim.sched.kind", "cfg"), "cosine");
  EXPECT_THROW(config_at(c, "optim.nope", "cfg"), Error);
}

TEST(Config, BadFiles) {
  std::string d = test::temp_dir();
  test::write_text(d + "/syntax.json", "{\"a\": 1,\n \"b\": }");
  test::write_text(d + "/loop1.json", R"({"parent": "loop2.json"})");
  test::write_text(d + "/loop2.json", R"({"parent": "loop1.json"})");
  test::write_text(d + "/array.json", "[1, 2]");
  for (auto [file, fragment] : std::vector<std::pair<std::string, std::string>>{
           {"syntax.json", "line 2"}, {"loop1.json", "loops"}, {"array.json", "object"}, {"missing.json", "no such file"}}) {
    try {
      load_config(d + "/" + file);
      FAIL() << file;
    } catch (const Error& e) {
      std::string msg = e.what();
      EXPECT_EQ(e.kind(), ErrorKind::BadInput);
      EXPECT_NE(msg.find(file), std::string::npos) << msg;
      EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
    }
  }
}
