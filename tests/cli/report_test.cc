// t81 report end to end: golden benchmark files in a temp folder, the page's numbers (axis ranges,
// bar heights, the latest run per model and mode, the history) checked against them; every SVG
// and the page parse as XML; same inputs give the same bytes; missing, empty and malformed files
// are named on stderr and in the page while the rest is still drawn.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "exec.h"
#include "report_fixture.h"

namespace t81 {
namespace {

namespace fs = std::filesystem;
using Attrs = std::map<std::string, std::string>;

constexpr double kPlotTop = 40, kPlotBottom = 380 - 62;  // src/t81/report/chart.h's frame

std::string Slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

testing::ExecResult Report(const fs::path& in, const fs::path& out) {
  return testing::ExecCommand(std::string(T81_BIN) + " report --in '" + in.string() + "' --out '" + out.string() + "'");
}

// The attributes of every <tag ...> element whose text contains `with`.
std::vector<Attrs> Elements(const std::string& svg, const std::string& tag, const std::string& with) {
  std::vector<Attrs> out;
  const std::regex el("<" + tag + " [^>]*>"), attr("([a-zA-Z][a-zA-Z0-9-]*)=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), el); it != std::sregex_iterator(); ++it) {
    const std::string s = it->str();
    if (s.find(with) == std::string::npos) continue;
    Attrs a;
    for (auto jt = std::sregex_iterator(s.begin(), s.end(), attr); jt != std::sregex_iterator(); ++jt)
      a[(*jt)[1].str()] = (*jt)[2].str();
    out.push_back(a);
  }
  return out;
}

double D(const Attrs& a, const std::string& k) { return std::stod(a.at(k)); }

// The y axis range of a chart and the bars of one series: value and drawn height.
void ExpectBar(const std::string& svg, const std::string& series, double value, double ymax) {
  const auto axis = Elements(svg, "g", "class=\"axis y\"");
  ASSERT_EQ(axis.size(), 1u);
  EXPECT_EQ(D(axis[0], "data-min"), 0.0);
  EXPECT_DOUBLE_EQ(D(axis[0], "data-max"), ymax);
  const auto bars = Elements(svg, "rect", "data-series=\"" + series + "\"");
  ASSERT_EQ(bars.size(), 1u) << series;
  EXPECT_DOUBLE_EQ(D(bars[0], "data-value"), value) << series;
  EXPECT_NEAR(D(bars[0], "height"), value / ymax * (kPlotBottom - kPlotTop), 0.006) << series;
  EXPECT_NEAR(D(bars[0], "y") + D(bars[0], "height"), kPlotBottom, 0.006) << series;
}

struct ReportTest : ::testing::Test {
  fs::path dir = fs::path(::testing::TempDir()) / ("t81_report_" + std::to_string(::getpid()));
  void SetUp() override { fs::remove_all(dir); }
  void TearDown() override { fs::remove_all(dir); }
};

TEST_F(ReportTest, GoldenNumbersInThePage) {
  testing::WriteGoldenBenchmarks(dir / "in");
  const auto r = Report(dir / "in", dir / "out/report.html");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(r.out.find("t81 report: "), std::string::npos) << "no file should be missing: " << r.out;
  const std::string page = Slurp(dir / "out/report.html");
  ASSERT_FALSE(page.empty());
  EXPECT_EQ(page.find("<script"), std::string::npos);
  // Nothing to fetch: the only URL is the SVG namespace.
  size_t urls = 0, ns = 0;
  for (size_t at = page.find("http"); at != std::string::npos; at = page.find("http", at + 1))
    ++urls, ns += page.compare(at, 26, "http://www.w3.org/2000/svg") == 0;
  EXPECT_EQ(urls, ns);
  EXPECT_NE(page.find("Newest run: 2026-02-04T00:00:00Z"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir / "out/report.md"));

  // Bar axes run from 0 to the nice step (1, 2, 2.5, 5 x 10^k; about 5 ticks) at or above 1.08 x
  // the top of the bars and ranges (room for the values written above them).
  // Benchmark 5: GEMM 1024³, bars 100 / 90 / 300 GFLOP/s, top of the ranges 350 -> 378 -> 0..400.
  const std::string gemm = Slurp(dir / "out/report_gemm.svg");
  ExpectBar(gemm, "openblas_sgemm", 100, 400);
  ExpectBar(gemm, "t81_f32", 90, 400);
  ExpectBar(gemm, "t81_int8", 300, 400);
  const auto ranges = Elements(gemm, "g", "class=\"range\" data-series=\"t81_int8\"");
  ASSERT_EQ(ranges.size(), 1u);
  EXPECT_EQ(D(ranges[0], "data-lo"), 250.0);
  EXPECT_EQ(D(ranges[0], "data-hi"), 350.0);
  // GEMV 4096²: 160 GFLOP/s at most, no ranges in the file -> 172.8 -> axis 0..200, no error bars.
  const std::string gemv = Slurp(dir / "out/report_gemm-2.svg");
  ExpectBar(gemv, "t81_int8", 160, 200);
  EXPECT_TRUE(Elements(gemv, "g", "class=\"range\"").empty());

  // Benchmark 4: tok/s = 1000 / ms per token; the range from the per-run times (8..12.5 ms):
  // 125 -> 135 -> axis 0..150.
  const std::string dec = Slurp(dir / "out/report_gguf-decode.svg");
  ExpectBar(dec, "t81", 100, 150);
  ExpectBar(dec, "llama.cpp", 50, 150);
  const auto t81_range = Elements(dec, "g", "class=\"range\" data-series=\"t81\"");
  ASSERT_EQ(t81_range.size(), 1u);
  EXPECT_DOUBLE_EQ(D(t81_range[0], "data-lo"), 80.0);
  EXPECT_DOUBLE_EQ(D(t81_range[0], "data-hi"), 125.0);
  ExpectBar(Slurp(dir / "out/report_gguf-rss.svg"), "t81", 150, 250);  // 200 -> 216 -> 0..250

  // Benchmark 1: the latest run per (model, mode) is drawn; the older run is in the history only.
  const std::string acc = Slurp(dir / "out/report_accuracy-bytes.svg");
  const auto fp32 = Elements(acc, "(circle|rect)", "data-x=\"31400\"");
  ASSERT_EQ(fp32.size(), 1u) << "one linear fp32 point";
  EXPECT_EQ(fp32[0].at("data-y"), "0.8443");
  EXPECT_EQ(Elements(acc, "(circle|rect)", "class=\"pt\"").size(), 5u);  // linear fp32/ptq/qat, mlp fp32/qat
  const auto yaxis = Elements(acc, "g", "class=\"axis y\"");
  ASSERT_EQ(yaxis.size(), 1u);
  EXPECT_EQ(yaxis[0].at("data-min"), "0.7");
  EXPECT_EQ(yaxis[0].at("data-max"), "0.9");
  const auto xaxis = Elements(acc, "g", "class=\"axis x\"");
  ASSERT_EQ(xaxis.size(), 1u);
  EXPECT_EQ(xaxis[0].at("data-log"), "1");
  EXPECT_EQ(xaxis[0].at("data-min"), "1000");
  EXPECT_EQ(xaxis[0].at("data-max"), "10000000");
  EXPECT_NE(page.find("<td>0.8111</td>"), std::string::npos) << "history lists the older run";
  EXPECT_NE(page.find("Test CPU, 2 cores"), std::string::npos) << "quoted CSV field";

  // Loss curves: the train lm log (train and validation) and bench lm's QAT losses.
  const std::string loss = Slurp(dir / "out/report_loss-1.svg");
  EXPECT_EQ(Elements(loss, "polyline", "class=\"curve\"").size(), 2u);
  EXPECT_EQ(Elements(loss, "circle", "data-x=\"300\" data-y=\"4.5\"").size(), 2u);
  EXPECT_TRUE(fs::exists(dir / "out/report_loss-2.svg"));
  EXPECT_NE(page.find("train_log.csv: run 2026-01-15T00:00:00Z · git cccc3333 · CPU Test CPU · ISA avx2 · threads 2"),
            std::string::npos) << "the run train lm recorded beside its log";

  // Benchmark 2: perplexity against size in MiB; decode tok/s bars.
  const std::string ppl = Slurp(dir / "out/report_lm-ppl.svg");
  EXPECT_EQ(Elements(ppl, "circle", "data-x=\"64\" data-y=\"90\"").size(), 1u);
  EXPECT_EQ(Elements(ppl, "(circle|rect)", "data-x=\"16\" data-y=\"180\"").size(), 1u);
  ExpectBar(Slurp(dir / "out/report_lm-toks.svg"), "ptq", 150, 200);  // 150 -> 162 -> 0..200

  // Benchmark 3 and the format table have no files: their charts say so.
  EXPECT_NE(Slurp(dir / "out/report_vit-accuracy.svg").find("no data: no vit_*.json"), std::string::npos);
  EXPECT_NE(page.find("no data: no lm_formats.md"), std::string::npos);
  for (const auto& e : fs::directory_iterator(dir / "out")) EXPECT_NE(e.path().extension(), ".tmp") << e.path();
}

TEST_F(ReportTest, SvgAndPageParseAsXml) {
  testing::WriteGoldenBenchmarks(dir / "in");
  ASSERT_EQ(Report(dir / "in", dir / "out/report.html").rc, 0);
  std::string files;
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir / "out"))
    if (e.path().extension() == ".svg" || e.path().extension() == ".html") files += " '" + e.path().string() + "'", ++n;
  EXPECT_GE(n, 14);
  ASSERT_TRUE(fs::exists("/usr/bin/python3")) << "the XML check needs /usr/bin/python3";
  const auto r = testing::ExecCommand(
      "/usr/bin/python3 -c 'import sys, xml.etree.ElementTree as E\nfor f in sys.argv[1:]: E.parse(f)\nprint(\"ok\", len(sys.argv) - 1)'" +
      files);
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("ok " + std::to_string(n)), std::string::npos) << r.out;
}

TEST_F(ReportTest, SameInputsSameBytes) {
  testing::WriteGoldenBenchmarks(dir / "in");
  ASSERT_EQ(Report(dir / "in", dir / "a/report.html").rc, 0);
  ASSERT_EQ(Report(dir / "in", dir / "b/report.html").rc, 0);
  EXPECT_EQ(Slurp(dir / "a/report.html"), Slurp(dir / "b/report.html"));
  EXPECT_EQ(Slurp(dir / "a/report.md"), Slurp(dir / "b/report.md"));
}

TEST_F(ReportTest, BadFilesAreNamedAndTheRestIsDrawn) {
  testing::WriteGoldenBenchmarks(dir / "in");
  fs::remove(dir / "in/lm_tiny.json");                      // missing
  testing::WriteText(dir / "in/gemm.json", "");             // empty
  testing::WriteText(dir / "in/gguf_bad.json", "{\"t81\": ");  // malformed
  testing::WriteText(dir / "in/vit_bad.json", "{\"baseline\": {\"accuracy\": \"high\"}}");  // wrong type
  std::string csv = Slurp(dir / "in/quantization_runs.csv");
  csv += "ptq,not-a-number,0.7,0.00004,2680,mlp,0.45,block,tq2_0,auto,0,3,3,128,0.03,0.1,2,avx512,x,y,z\n";
  testing::WriteText(dir / "in/quantization_runs.csv", csv);
  const auto r = Report(dir / "in", dir / "out/report.html");
  ASSERT_EQ(r.rc, 0) << r.out;
  const std::string in = (dir / "in").string() + "/";
  for (const std::string& f : {in + "lm_*.json: missing", in + "gemm.json: empty file", in + "gguf_bad.json: not a JSON object",
                               in + "vit_bad.json", in + "quantization_runs.csv: line 10: accuracy 'not-a-number'"}) {
    EXPECT_NE(r.out.find("t81 report: " + f), std::string::npos) << f << "\n" << r.out;
  }
  const std::string page = Slurp(dir / "out/report.html");
  EXPECT_NE(page.find(in + "gemm.json</code>: empty file"), std::string::npos);
  EXPECT_NE(page.find(in + "gguf_bad.json</code>"), std::string::npos);
  EXPECT_NE(page.find("no data: no readable gemm.json"), std::string::npos);
  EXPECT_NE(page.find("no data: no readable lm_*.json"), std::string::npos);
  // What was readable is still drawn.
  ExpectBar(Slurp(dir / "out/report_gguf-decode.svg"), "t81", 100, 150);
  EXPECT_EQ(Elements(Slurp(dir / "out/report_accuracy-bytes.svg"), "(circle|rect)", "class=\"pt\"").size(), 5u);
}

TEST_F(ReportTest, EmptyFolderStillWritesThePage) {
  fs::create_directories(dir / "in");
  const auto r = Report(dir / "in", dir / "out/report.html");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("quantization_runs.csv: missing"), std::string::npos) << r.out;
  EXPECT_NE(Slurp(dir / "out/report.html").find("no data"), std::string::npos);
}

TEST_F(ReportTest, InputFolderMustExist) {
  const auto r = Report(dir / "nowhere", dir / "out/report.html");
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.out.rfind("t81: --in ", 0), 0u) << r.out;
  EXPECT_FALSE(fs::exists(dir / "out/report.html"));
}

}  // namespace
}  // namespace t81
