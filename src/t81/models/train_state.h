// A training run's state in one safetensors file (parameters, AdamW moments and step, the run's
// counters and a fingerprint of its options and data), so a stopped run resumes bit for bit.
// Shared by the LM and ViT trainers.
#pragma once

#include <cstdint>
#include <string>

#include "t81/base/status.h"
#include "t81/models/param_arena.h"

namespace t81::models {

struct TrainCounters {
  int64_t step = 0;     // optimizer steps done
  int64_t items = 0;    // tokens (LM) or images (ViT) seen
  double elapsed_s = 0; // time spent training and evaluating, resumed runs included
};

// Writes path atomically. fingerprint: JSON text of everything that must match to resume.
Status SaveTrainState(const std::string& path, ParamArena& arena, const std::string& fingerprint,
                      const TrainCounters& c);
// Restores a state saved with the same fingerprint (else a one-line error listing what differs)
// and a step in [0, max_step]; fills arena (params, moments, AdamW step) and c.
Status LoadTrainState(const std::string& path, ParamArena& arena, const std::string& fingerprint, int64_t max_step,
                      TrainCounters* c);

}  // namespace t81::models
