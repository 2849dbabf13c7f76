#include "t81/models/train_state.h"

#include <cstdio>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <type_traits>
#include <vector>

#include "t81/io/safetensors.h"

namespace t81::models {
namespace {
// Metadata keys; "tokens" counts the images of a ViT run (the key predates image training).
constexpr const char* kOptions = "t81.train.options";
constexpr const char* kStep = "t81.train.step";
constexpr const char* kItems = "t81.train.tokens";
constexpr const char* kElapsed = "t81.train.elapsed_s";
constexpr const char* kAdamStep = "t81.train.adam_step";

// The weight average ("ema") is part of the state when the run keeps one (its fingerprint says so).
std::vector<std::pair<const char*, float*>> Parts(ParamArena& a) {
  std::vector<std::pair<const char*, float*>> parts = {
      {"params", a.params()}, {"adam_m", a.moment1()}, {"adam_v", a.moment2()}};
  if (a.has_ema()) parts.push_back({"ema", a.ema()});
  return parts;
}
}  // namespace

Status SaveTrainState(const std::string& path, ParamArena& a, const std::string& fingerprint, const TrainCounters& c) {
  const uint64_t n = a.size();
  const auto parts = Parts(a);
  std::vector<io::SafeTensorsStreamWriter::Entry> entries;
  for (const auto& [name, data] : parts) entries.push_back({name, io::DType::kF32, {int64_t(n)}, n * 4});
  char elapsed[64];
  std::snprintf(elapsed, sizeof elapsed, "%.17g", c.elapsed_s);
  const std::map<std::string, std::string> meta = {{kOptions, fingerprint},
                                                   {kStep, std::to_string(c.step)},
                                                   {kItems, std::to_string(c.items)},
                                                   {kElapsed, elapsed},
                                                   {kAdamStep, std::to_string(a.adam_step())}};
  io::SafeTensorsStreamWriter w;
  T81_RETURN_IF_ERROR(w.Begin(path, entries, meta));
  for (const auto& [name, data] : parts) T81_RETURN_IF_ERROR(w.Append(data, n * 4));
  return w.Finish();
}

Status LoadTrainState(const std::string& path, ParamArena& a, const std::string& fingerprint, int64_t max_step,
                      TrainCounters* out) {
  T81_ASSIGN_OR_RETURN(auto f, io::SafeTensorsFile::Open(path));
  auto meta = [&](const std::string& key) -> Result<std::string> {
    auto it = f->metadata().find(key);
    if (it == f->metadata().end()) return Error(path + ": not a t81 training state (no " + key + ")");
    return it->second;
  };
  T81_ASSIGN_OR_RETURN(const std::string saved, meta(kOptions));
  if (saved != fingerprint) {
    const nlohmann::json was = nlohmann::json::parse(saved, nullptr, false), now = nlohmann::json::parse(fingerprint);
    std::string diff;
    for (auto it = now.begin(); it != now.end(); ++it)
      if (!was.is_object() || !was.contains(it.key()) || was[it.key()] != it.value())
        diff += (diff.empty() ? "" : ", ") + it.key() + " " +
                (was.is_object() && was.contains(it.key()) ? was[it.key()].dump() : "?") + " -> " + it.value().dump();
    return Error(path + ": saved by a run with other settings (" + diff + "); resume with the same ones");
  }
  auto number = [&](const std::string& key, auto* v) -> Status {
    T81_ASSIGN_OR_RETURN(const std::string s, meta(key));
    try {
      size_t used = 0;
      if constexpr (std::is_same_v<std::remove_pointer_t<decltype(v)>, double>) *v = std::stod(s, &used);
      else *v = std::stoll(s, &used);
      if (used != s.size()) throw std::invalid_argument(s);
    } catch (const std::exception&) {
      return Error(path + ": bad " + key + " '" + s + "'");
    }
    return OkStatus();
  };
  TrainCounters c;
  int64_t adam_step = 0;
  T81_RETURN_IF_ERROR(number(kStep, &c.step));
  T81_RETURN_IF_ERROR(number(kItems, &c.items));
  T81_RETURN_IF_ERROR(number(kAdamStep, &adam_step));
  T81_RETURN_IF_ERROR(number(kElapsed, &c.elapsed_s));
  if (c.step < 0 || c.step > max_step || adam_step < 0 || adam_step > c.step + (int64_t(1) << 30))
    return Error(path + ": step " + std::to_string(c.step) + " is outside this run's " + std::to_string(max_step) + " steps");
  for (const auto& [name, dst] : Parts(a)) {
    const io::TensorInfo* t = f->Find(name);
    if (!t || t->dtype != io::DType::kF32 || t->numel() != int64_t(a.size()))
      return Error(path + ": tensor " + name + " missing or not " + std::to_string(a.size()) + " F32 values");
    std::memcpy(dst, f->data(*t), a.size() * 4);
  }
  a.set_adam_step(int(adam_step));
  *out = c;
  return OkStatus();
}

}  // namespace t81::models
