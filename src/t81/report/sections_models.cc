// Sections on whole models: benchmark 2 (language model perplexity against size, tok/s; the GGUF
// format table) and benchmark 3 (ViT accuracy and images/s, the seed's JSON keys).
#include <cmath>
#include <map>

#include "t81/report/chart.h"
#include "t81/report/page.h"
#include "t81/report/sections.h"

namespace t81::report::internal {

namespace {

constexpr double kMiB = 1048576.0;

std::string Captions(const std::vector<RunMeta>& metas) {
  std::string c;
  for (const RunMeta& m : metas) c += (c.empty() ? "" : "; ") + MetaCaption(m);
  return c;
}

// Index of a series by name, adding it when new.
size_t SeriesOf(std::vector<std::string>* names, const std::string& n) {
  for (size_t i = 0; i < names->size(); ++i)
    if ((*names)[i] == n) return i;
  names->push_back(n);
  return names->size() - 1;
}

}  // namespace

Section LmSection(const BenchData& d) {
  Section s;
  s.title = "Benchmark 2 — language model: perplexity against size, tokens per second";
  s.intro = "`t81 bench lm`: the float baseline, PTQ (ternary block linears, Q8_0 head) and QAT, as stored. "
            "Perplexity over the benchmark's evaluation window; decode tok/s after the prompt.";
  if (d.lm.empty()) {
    s.figures.push_back({"lm-ppl", "Perplexity vs size", DrawNoData("lm-ppl", "Perplexity vs size", "no readable lm_*.json"), ""});
    s.figures.push_back({"lm-toks", "Decode tokens/s", DrawNoData("lm-toks", "Decode tokens/s", "no readable lm_*.json"), ""});
  } else {
    XYChart ppl{"lm-ppl", "Perplexity vs stored size", "stored size (MiB)", "perplexity", true, false, {}};
    std::vector<std::string> stage_names;
    BarChart toks{"lm-toks", "Decode tokens/s per stage", "decode tokens/s", {}, {}};
    Table t{"Every lm_*.json", {"file", "model", "stage", "size (MiB)", "perplexity", "tok/s (seed)", "prompt tok/s",
                                "decode tok/s"}, {}};
    std::vector<RunMeta> metas;
    for (const LmRun& r : d.lm) {
      BarGroup g{r.name, {}};
      for (const LmStage& st : r.stages) {
        const size_t si = SeriesOf(&stage_names, st.name);
        if (ppl.series.size() <= si) ppl.series.push_back({st.name, {}, false});
        ppl.series[si].points.push_back({st.size_bytes / kMiB, st.ppl, r.name});
        if (g.bars.size() <= si) g.bars.resize(si + 1);
        g.bars[si].value = st.decode_tok_s;
        t.rows.push_back({r.name, r.model_id, st.name, Fixed(st.size_bytes / kMiB, 2), Fixed(st.ppl, 3), Fixed(st.tok_s, 2),
                          Fixed(st.prompt_tok_s, 1), Fixed(st.decode_tok_s, 1)});
      }
      toks.groups.push_back(g);
      metas.push_back(r.meta);
    }
    toks.series = stage_names;
    for (BarGroup& g : toks.groups) g.bars.resize(stage_names.size());
    s.figures.push_back({ppl.id, ppl.title, DrawXY(ppl), Captions(metas)});
    s.figures.push_back({toks.id, toks.title, DrawBars(toks), Captions(metas)});
    s.tables.push_back(t);
  }
  const char* fid = "lm-formats";
  if (d.formats.empty()) {
    s.figures.push_back({fid, "GGUF formats: perplexity vs file size",
                         DrawNoData(fid, "GGUF formats: perplexity vs file size",
                                    "no lm_formats.md (scripts/bench-lm-formats.sh writes it)"), ""});
    return s;
  }
  for (const LmFormats& f : d.formats) {
    XYChart c{fid, "GGUF formats: perplexity vs file size", "file size (MiB)", "perplexity", true, false,
              {{"llama.cpp", {}, false}, {"t81", {}, false}}};
    Table t{"lm_formats.md " + f.note, {"file", "what", "MiB", "llama.cpp PPL", "t81 PPL"}, {}};
    for (const FormatRow& r : f.rows) {
      c.series[0].points.push_back({r.mib, r.llama_ppl, r.file});
      c.series[1].points.push_back({r.mib, r.t81_ppl, ""});
      t.rows.push_back({r.file, r.what, Fixed(r.mib, 2), Fixed(r.llama_ppl, 3), Fixed(r.t81_ppl, 3)});
    }
    s.figures.push_back({fid, c.title, DrawXY(c), MetaCaption(f.meta)});
    s.tables.push_back(t);
    break;  // one table file
  }
  return s;
}

Section VitSection(const BenchData& d) {
  Section s;
  s.title = "Benchmark 3 — ViT: accuracy and images per second";
  s.intro = "The seed's ViT benchmark keys (model_id, dataset, baseline / ptq / qat with size_gib, accuracy, loss, "
            "images/s), read from vit_*.json.";
  if (d.vit.empty()) {
    const std::string why = "no vit_*.json (t81 bench vit does not exist yet)";
    s.figures.push_back({"vit-accuracy", "ViT accuracy", DrawNoData("vit-accuracy", "ViT accuracy", why), ""});
    s.figures.push_back({"vit-speed", "ViT images/s", DrawNoData("vit-speed", "ViT images/s", why), ""});
    return s;
  }
  BarChart acc{"vit-accuracy", "ViT accuracy per stage", "accuracy (fraction)", {}, {}};
  BarChart ips{"vit-speed", "ViT images per second per stage", "images/s", {}, {}};
  Table t{"Every vit_*.json", {"file", "model", "dataset", "stage", "size (GiB)", "accuracy", "loss", "images/s"}, {}};
  std::vector<std::string> names;
  std::vector<RunMeta> metas;
  for (const VitRun& r : d.vit) {
    BarGroup ga{r.name, {}}, gi{r.name, {}};
    for (const VitStage& st : r.stages) {
      const size_t si = SeriesOf(&names, st.name);
      if (ga.bars.size() <= si) ga.bars.resize(si + 1), gi.bars.resize(si + 1);
      ga.bars[si].value = st.accuracy;
      gi.bars[si].value = st.images_s;
      t.rows.push_back({r.name, r.model_id, r.dataset, st.name, Fixed(st.size_gib, 3), Fixed(st.accuracy, 4),
                        Fixed(st.loss, 4), Fixed(st.images_s, 1)});
    }
    acc.groups.push_back(ga);
    ips.groups.push_back(gi);
    metas.push_back(r.meta);
  }
  acc.series = ips.series = names;
  for (BarGroup& g : acc.groups) g.bars.resize(names.size());
  for (BarGroup& g : ips.groups) g.bars.resize(names.size());
  s.figures.push_back({acc.id, acc.title, DrawBars(acc), Captions(metas)});
  s.figures.push_back({ips.id, ips.title, DrawBars(ips), Captions(metas)});
  s.tables.push_back(t);
  return s;
}

}  // namespace t81::report::internal
