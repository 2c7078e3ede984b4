// llm-serve --config: each version's flags apply over the command line's (what a version does
// not set it inherits), relative paths resolve against the file, and every mistake is an
// error naming the model, version and key.
#include "cli/model_config.h"

#include <gtest/gtest.h>

#include "llm/error.h"

namespace llm {
namespace {

using ojson = nlohmann::ordered_json;

VersionDefaults defaults() {
  VersionDefaults d;
  d.engine.config.max_num_seqs = 7;
  d.engine.config.num_blocks = 300;
  d.engine.config.backend = "cpu";
  d.base_dir = "/srv/models";
  return d;
}

TEST(ModelConfig, VersionsInheritTheCommandLineAndOverrideWhatTheySet) {
  const auto models = parse_model_config(ojson::parse(R"({"models": [{"name": "m", "versions": [
      {"version": "a", "model": "a-dir"},
      {"version": "b", "model": "/abs/b", "weight": 2, "flags": {"max-num-seqs": 3, "cuda-graphs": true,
                                                                "no-prefix-caching": true}}]}]})"),
                                         defaults(), "cfg");
  ASSERT_EQ(models.size(), 1u);
  const auto& v = models[0].versions;
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].model, "/srv/models/a-dir");
  EXPECT_EQ(v[0].engine.model_dir, "/srv/models/a-dir");
  EXPECT_EQ(v[0].engine.max_num_seqs, 7);
  EXPECT_EQ(v[0].engine.num_blocks, 300);  // not reset to the flag's default of 0
  EXPECT_TRUE(v[0].engine.enable_prefix_caching);
  EXPECT_EQ(v[1].model, "/abs/b");
  EXPECT_EQ(v[1].engine.max_num_seqs, 3);
  EXPECT_EQ(v[1].engine.num_blocks, 300);
  EXPECT_TRUE(v[1].engine.cuda_graphs);
  EXPECT_FALSE(v[1].engine.enable_prefix_caching);
  // Weights: as given; none given at all: an equal split.
  EXPECT_EQ(v[0].weight, 0);
  EXPECT_EQ(v[1].weight, 2);
  const auto equal = parse_model_config(
      ojson::parse(R"({"models": [{"name": "m", "sticky": "header:X-Session", "versions": [
          {"version": "a", "model": "x"}, {"version": "b", "model": "y"},
          {"version": "c", "model": "z", "shadow": true}]}]})"),
      defaults(), "cfg");
  EXPECT_EQ(equal[0].sticky, StickyBy::kHeader);
  EXPECT_EQ(equal[0].sticky_header, "X-Session");
  EXPECT_EQ(equal[0].versions[0].weight, 1);
  EXPECT_EQ(equal[0].versions[1].weight, 1);
  EXPECT_EQ(equal[0].versions[2].weight, 0);
}

TEST(ModelConfig, MistakesNameWhereTheyAre) {
  struct Bad {
    const char* config;
    const char* message;
  };
  const Bad cases[] = {
      {R"({"model": []})", "unknown key 'model'"},
      {R"({"models": [{"name": "m:1", "versions": [{"version": "a", "model": "x"}]}]})",
       "must not contain ':'"},
      {R"({"models": [{"name": "m", "versions": [{"version": "a", "model": "x", "flags": {"tp-rank": 1}}]}]})",
       "model 'm', version 'a': flag 'tp-rank' is not supported per version"},
      {R"({"models": [{"name": "m", "versions": [{"version": "a", "model": "x", "flags": {"cuda-graphs": false}}]}]})",
       "leave it out instead of false"},
      {R"({"models": [{"name": "m", "versions": [{"version": "a", "model": "x", "flags": {"bogus": 1}}]}]})",
       "unknown flag 'bogus'"},
      {R"({"models": [{"name": "m", "versions": [{"version": "a", "model": "x", "weight": -1}]}]})",
       "'weight' must be a number >= 0"},
      {R"({"models": [{"name": "m", "versions": [{"version": "a", "model": "x", "weight": 1, "shadow": true}]}]})",
       "a shadow version takes no weight"},
      {R"({"models": [{"name": "m", "versions": [{"version": "a", "model": "x"}, {"version": "b", "model": "x", "shadow": true}, {"version": "c", "model": "x", "shadow": true}]}]})",
       "at most one version may be the shadow"},
      {R"({"models": [{"name": "m", "golden": [{"prompt": "p"}], "versions": [{"version": "a", "model": "x"}]}]})",
       "needs 'expected'"},
      {R"({"models": [{"name": "m", "versions": [{"version": "a", "model": "x", "flags": {"chat-template": "/nonexistent.jinja"}}]}]})",
       "--chat-template"},
  };
  for (const Bad& b : cases) {
    try {
      parse_model_config(ojson::parse(b.config), defaults(), "cfg");
      ADD_FAILURE() << "accepted: " << b.config;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find(b.message), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).rfind("cfg", 0), 0u) << e.what();
    }
  }
}

}  // namespace
}  // namespace llm
