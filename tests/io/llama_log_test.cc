#include "t81/io/llama_log.h"

#include <gtest/gtest.h>

namespace t81::io {
namespace {

TEST(LlamaLog, ParsesPerfContextLines) {
  const std::string out =
      "some generated text\n"
      "llama_perf_sampler_print:    sampling time =       1.23 ms /   160 runs   (    0.01 ms per token)\n"
      "llama_perf_context_print:        load time =     100.00 ms\n"
      "llama_perf_context_print: prompt eval time =      32.00 ms /    16 tokens (    2.00 ms per token,   500.00 tokens per second)\n"
      "llama_perf_context_print:        eval time =     381.00 ms /   127 runs   (    3.00 ms per token,   333.33 tokens per second)\n"
      "llama_perf_context_print:       total time =     500.00 ms /   143 tokens\n";
  double p = -1, e = -1;
  ASSERT_TRUE(ParseLlamaTimings(out, &p, &e));
  EXPECT_DOUBLE_EQ(p, 2.0);
  EXPECT_DOUBLE_EQ(e, 3.0);
}

TEST(LlamaLog, NoEvalLineIsFalse) {
  double p = -1, e = -1;
  EXPECT_FALSE(ParseLlamaTimings("llama_perf_context_print: prompt eval time = 32.00 ms / 16 tokens\n", &p, &e));
  EXPECT_DOUBLE_EQ(p, 2.0);
  EXPECT_DOUBLE_EQ(e, -1);
  EXPECT_FALSE(ParseLlamaTimings("nothing here", &p, &e));
}

}  // namespace
}  // namespace t81::io
