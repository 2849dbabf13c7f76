// Hugging Face model ids in the local hub cache, resolved as transformers does offline (it never
// downloads): cache = $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub; an id "ORG/NAME" (or "NAME") is the folder
// models--ORG--NAME/snapshots/<the commit named by refs/main>/.
#pragma once

#include <string>

#include "t81/base/status.h"

namespace t81::io {

// path_or_id itself when it exists on disk; else the snapshot folder of the model id in the
// cache; else a one-line error naming the paths searched.
Result<std::string> ResolveModelPath(const std::string& path_or_id);

}  // namespace t81::io
