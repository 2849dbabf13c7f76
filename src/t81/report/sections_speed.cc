// Sections on speed against a competitor measured in the same run: benchmark 4 (t81 vs llama.cpp
// on the same GGUF: decode and prompt tok/s with the paired runs' ranges, peak RSS) and
// benchmark 5 (packed ternary GEMM/GEMV vs OpenBLAS, GFLOP/s with the rounds' ranges).
#include <cmath>
#include <utility>

#include "t81/report/chart.h"
#include "t81/report/page.h"
#include "t81/report/sections.h"

namespace t81::report::internal {

namespace {

std::string RangeText(double v, double lo, double hi, int decimals) {
  if (!std::isfinite(v)) return "n/a";
  std::string s = Fixed(v, decimals);
  if (std::isfinite(lo) && std::isfinite(hi)) s += " (" + Fixed(lo, decimals) + "–" + Fixed(hi, decimals) + ")";
  return s;
}

}  // namespace

Section GgufSection(const BenchData& d) {
  Section s;
  s.title = "Benchmark 4 — GGUF: t81 vs llama.cpp on the same file";
  s.intro = "`t81 bench gguf`: both engines, same file, same threads, runs alternating. Bars: medians; "
            "error bars: the range over the runs.";
  if (d.gguf.empty()) {
    const std::string why = "no readable gguf_*.json";
    const std::pair<const char*, const char*> charts[] = {{"gguf-decode", "Decode tokens/s: t81 vs llama.cpp"},
                                                          {"gguf-prompt", "Prompt tokens/s: t81 vs llama.cpp"},
                                                          {"gguf-rss", "Peak resident memory"}};
    for (const auto& [id, title] : charts) s.figures.push_back({id, title, DrawNoData(id, title, why), ""});
    return s;
  }
  BarChart dec{"gguf-decode", "Decode tokens/s: t81 vs llama.cpp", "decode tokens/s", {"t81", "llama.cpp"}, {}};
  BarChart pro{"gguf-prompt", "Prompt tokens/s: t81 vs llama.cpp", "prompt tokens/s", {"t81", "llama.cpp"}, {}};
  BarChart rss{"gguf-rss", "Peak resident memory", "peak RSS (MiB)", {"t81", "llama.cpp"}, {}};
  Table t{"Every gguf_*.json (medians; ranges over the paired runs)",
          {"model", "arch", "size (MiB)", "t81 decode tok/s", "llama.cpp decode tok/s", "decode speed-up", "t81 prompt tok/s",
           "llama.cpp prompt tok/s", "t81 RSS (MiB)", "llama.cpp RSS (MiB)"}, {}};
  std::string caption;
  for (const GgufRun& r : d.gguf) {
    dec.groups.push_back({r.name, {{r.t81.decode_tok_s, r.t81.decode_lo, r.t81.decode_hi},
                                   {r.llama.decode_tok_s, r.llama.decode_lo, r.llama.decode_hi}}});
    pro.groups.push_back({r.name, {{r.t81.prompt_tok_s, r.t81.prompt_lo, r.t81.prompt_hi},
                                   {r.llama.prompt_tok_s, r.llama.prompt_lo, r.llama.prompt_hi}}});
    rss.groups.push_back({r.name, {{r.t81.peak_rss_mib, NAN, NAN}, {r.llama.peak_rss_mib, NAN, NAN}}});
    t.rows.push_back({r.name, r.arch, Fixed(r.size_mib, 1), RangeText(r.t81.decode_tok_s, r.t81.decode_lo, r.t81.decode_hi, 1),
                      RangeText(r.llama.decode_tok_s, r.llama.decode_lo, r.llama.decode_hi, 1),
                      RangeText(r.speedup, r.speedup_lo, r.speedup_hi, 2),
                      RangeText(r.t81.prompt_tok_s, r.t81.prompt_lo, r.t81.prompt_hi, 1),
                      RangeText(r.llama.prompt_tok_s, r.llama.prompt_lo, r.llama.prompt_hi, 1), Fixed(r.t81.peak_rss_mib, 1),
                      Fixed(r.llama.peak_rss_mib, 1)});
    caption += (caption.empty() ? "" : "; ") + MetaCaption(r.meta);
  }
  s.figures.push_back({dec.id, dec.title, DrawBars(dec), caption});
  s.figures.push_back({pro.id, pro.title, DrawBars(pro), caption});
  s.figures.push_back({rss.id, rss.title, DrawBars(rss), caption});
  s.tables.push_back(t);
  return s;
}

Section GemmSection(const BenchData& d) {
  Section s;
  s.title = "Benchmark 5 — packed ternary GEMM/GEMV vs OpenBLAS";
  s.intro = "`t81 bench gemm`: OpenBLAS sgemm/sgemv and t81's f32- and int8-activation kernels on the same shapes, "
            "same threads, paired rounds. Bars: GFLOP/s of the median round; error bars: the range over the rounds.";
  if (d.gemm.empty()) {
    s.figures.push_back({"gemm", "GFLOP/s", DrawNoData("gemm", "GEMM / GEMV GFLOP/s", "no readable gemm.json"), ""});
    return s;
  }
  const GemmRun& run = d.gemm.front();
  Table t{"gemm.json", {"shape", "kernel", "GFLOP/s (range)", "median (ms)", "best t81 / OpenBLAS (range)"}, {}};
  for (size_t i = 0; i < run.shapes.size(); ++i) {
    const GemmShape& sh = run.shapes[i];
    const std::string id = i == 0 ? "gemm" : "gemm-" + std::to_string(i + 1);
    BarChart c{id, sh.name + ": GFLOP/s by kernel", "GFLOP/s", {}, {{sh.name, {}}}};
    for (const KernelSpeed& k : sh.kernels) {
      c.series.push_back(k.kernel);
      c.groups[0].bars.push_back({k.gflops, k.lo, k.hi});
      t.rows.push_back({sh.name, k.kernel, RangeText(k.gflops, k.lo, k.hi, 1), Fixed(k.median_s * 1e3, 3),
                        RangeText(sh.speedup, sh.speedup_lo, sh.speedup_hi, 2)});
    }
    s.figures.push_back({id, c.title, DrawBars(c), MetaCaption(run.meta)});
  }
  s.tables.push_back(t);
  return s;
}

}  // namespace t81::report::internal
