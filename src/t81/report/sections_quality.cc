// Sections on model quality: benchmark 1 (accuracy against stored bytes, latest run per model and
// mode, the history below it) and the training curves (train lm logs, bench lm's QAT losses).
#include <cmath>
#include <map>
#include <set>

#include "t81/report/chart.h"
#include "t81/report/page.h"
#include "t81/report/sections.h"

namespace t81::report::internal {

Section FashionSection(const BenchData& d) {
  Section s;
  s.title = "Benchmark 1 — Fashion-MNIST: accuracy against stored bytes (FP32 / PTQ / QAT)";
  s.intro = "Test accuracy of each model and mode against the bytes the mode stores (fp32: 4 B per parameter; "
            "ptq/qat: TQ blocks with their scales, plus float biases). Latest run per (model, mode); every run below.";
  const char* id = "accuracy-bytes";
  if (d.fashion.empty()) {
    s.figures.push_back({id, "Accuracy vs stored bytes", DrawNoData(id, "Accuracy vs stored bytes",
                                                                    "no readable quantization_runs.csv"), ""});
    return s;
  }
  std::map<std::pair<std::string, std::string>, size_t> latest;  // (model, mode) -> row
  for (size_t i = 0; i < d.fashion.size(); ++i) latest[{d.fashion[i].model, d.fashion[i].mode}] = i;
  std::map<std::string, size_t> mode_index;
  XYChart c{id, "Accuracy vs stored bytes (latest run per model and mode)", "stored bytes (B)",
            "test accuracy (fraction)", true, false, {}};
  Table t{"Latest run per (model, mode)", {"model", "mode", "accuracy", "loss", "bytes", "latency (s/batch)",
                                           "run", "git", "ISA", "threads"}, {}};
  std::set<std::string> runs;
  for (const auto& [key, i] : latest) {
    const FashionRow& r = d.fashion[i];
    if (!mode_index.count(r.mode)) {
      mode_index[r.mode] = c.series.size();
      c.series.push_back({r.mode, {}, false});
    }
    c.series[mode_index[r.mode]].points.push_back({r.bytes, r.accuracy, r.model});
    t.rows.push_back({r.model, r.mode, Fixed(r.accuracy, 4), Fixed(r.loss, 4), Fixed(r.bytes, 0), Fixed(r.latency_s, 6),
                      r.meta.timestamp, r.meta.git_revision, r.meta.isa, r.meta.threads ? std::to_string(r.meta.threads) : ""});
    runs.insert(MetaCaption(r.meta));
  }
  std::string caption;
  for (const std::string& m : runs) caption += (caption.empty() ? "" : "; ") + m;
  s.figures.push_back({id, c.title, DrawXY(c), caption});
  s.tables.push_back(t);
  Table h{"History: every row of quantization_runs.csv, newest first", {"run", "model", "mode", "accuracy", "bytes",
                                                                       "git", "CPU", "ISA", "threads"}, {}};
  for (size_t i = d.fashion.size(); i-- > 0;) {
    const FashionRow& r = d.fashion[i];
    h.rows.push_back({r.meta.timestamp, r.model, r.mode, Fixed(r.accuracy, 4), Fixed(r.bytes, 0), r.meta.git_revision,
                      r.meta.cpu_model, r.meta.isa, r.meta.threads ? std::to_string(r.meta.threads) : ""});
  }
  s.tables.push_back(h);
  return s;
}

Section CurvesSection(const BenchData& d) {
  Section s;
  s.title = "Training and validation loss";
  s.intro = "Loss per step as the runs logged it: `t81 train lm` (train_log.csv: mean training loss since the "
            "previous evaluation, validation loss at each evaluation) and the QAT steps of `t81 bench lm`. "
            "The Fashion-MNIST benchmark does not record a curve.";
  if (d.curves.empty()) {
    s.figures.push_back({"loss", "Loss curves", DrawNoData("loss", "Loss curves", "no train_log.csv and no QAT losses"), ""});
    return s;
  }
  Table t{"Last logged step of each curve", {"run", "steps", "last step", "train loss", "validation loss", "source"}, {}};
  for (size_t i = 0; i < d.curves.size(); ++i) {
    const LossCurve& lc = d.curves[i];
    const std::string id = "loss-" + std::to_string(i + 1);
    XYChart c{id, "Loss: " + lc.name, "step", "loss (nats/token)", false, false, {{"train", {}, true}}};
    bool has_val = false;
    for (size_t k = 0; k < lc.step.size(); ++k) {
      c.series[0].points.push_back({lc.step[k], lc.train_loss[k], ""});
      has_val = has_val || std::isfinite(lc.val_loss[k]);
    }
    if (has_val) {
      c.series.push_back({"validation", {}, true});
      for (size_t k = 0; k < lc.step.size(); ++k)
        if (std::isfinite(lc.val_loss[k])) c.series[1].points.push_back({lc.step[k], lc.val_loss[k], ""});
    }
    s.figures.push_back({id, c.title, DrawXY(c), MetaCaption(lc.meta)});
    const size_t n = lc.step.size();
    t.rows.push_back({lc.name, std::to_string(n), n ? Fixed(lc.step[n - 1], 0) : "", n ? Fixed(lc.train_loss[n - 1], 4) : "",
                      n ? Fixed(lc.val_loss[n - 1], 4) : "", lc.meta.source});
  }
  s.tables.push_back(t);
  return s;
}

}  // namespace t81::report::internal
