// --shard parsing and the documented, reproducible org hash.
#include "relicense/plan/shard.hpp"

#include "relicense/plan/hash.hpp"

#include <gtest/gtest.h>

using relicense::plan::in_shard;
using relicense::plan::parse_shard;
using relicense::plan::shard_spec;

// "K/N" parses with 0 <= K < N; anything else is refused.
TEST(PlanShard, parse) {
  auto s = parse_shard("2/5");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->index, 2u);
  EXPECT_EQ(s->count, 5u);
  EXPECT_TRUE(parse_shard("0/1"));
  for (const char* bad : {"", "/", "1", "5/5", "6/5", "0/0", "-1/3", "1/-3", " 1/3", "1/3 ", "a/b",
                          "1/3/4", "1//3", "1/99999999", "+1/3"})
    EXPECT_FALSE(parse_shard(bad)) << bad;
  EXPECT_EQ(to_string(*s), "2/5");
}

// The hash is FNV-1a 64 of the id's bytes, checked against published test vectors.
TEST(PlanShard, HashIsFnv1a64) {
  EXPECT_EQ(relicense::plan::shard_hash(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(relicense::plan::shard_hash("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(relicense::plan::shard_hash("foobar"), 0x85944171f73967e8ULL);
  EXPECT_EQ(relicense::plan::to_hex(0xaf63dc4c8601ec8cULL), "af63dc4c8601ec8c");
  // The worked example of shard.hpp.
  EXPECT_EQ(relicense::plan::shard_hash("123456"), 0xf6e3ed7e0e67290aULL);
  EXPECT_TRUE(in_shard("123456", shard_spec{2, 4}));
}

// Every org falls in exactly one shard, the one its hash mod N names.
TEST(PlanShard, partition) {
  for (int i = 0; i < 500; ++i) {
    const std::string org = "org-" + std::to_string(i * 7919);
    int hits = 0;
    for (std::uint32_t k = 0; k < 4; ++k) hits += in_shard(org, shard_spec{k, 4}) ? 1 : 0;
    EXPECT_EQ(hits, 1) << org;
    EXPECT_TRUE(in_shard(
        org, shard_spec{static_cast<std::uint32_t>(relicense::plan::shard_hash(org) % 4), 4}));
    EXPECT_TRUE(in_shard(org, shard_spec{0, 1}));
  }
}
