// libFuzzer entry point: one input through t81::fuzz::FeedCifar (fuzz/targets.h).
#include "fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)t81::fuzz::FeedCifar(data, size);
  return 0;
}
