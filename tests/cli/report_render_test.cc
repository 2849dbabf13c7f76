// The report page rendered by headless Chromium (Debian package chromium, installed by
// scripts/setup.sh): the screenshot has the window's size, is not blank and shows the palette's
// colours. The page and its PNG are kept in the build folder (tests/report_artifacts/) for people
// to look at. Label "chromium": without the browser this test fails, it does not skip.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "exec.h"
#include "report_fixture.h"

namespace t81 {
namespace {

namespace fs = std::filesystem;

struct Image {
  uint32_t width = 0, height = 0;
  int channels = 0;
  std::vector<uint8_t> px;  // rows of width * channels bytes
};

uint32_t Be32(const std::string& s, size_t at) {
  return uint32_t(uint8_t(s[at])) << 24 | uint32_t(uint8_t(s[at + 1])) << 16 | uint32_t(uint8_t(s[at + 2])) << 8 |
         uint32_t(uint8_t(s[at + 3]));
}

// An 8-bit RGB or RGBA PNG (what Chromium writes), unfiltered. Empty width on anything else.
Image DecodePng(const std::string& f) {
  Image im;
  if (f.size() < 33 || f.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) return im;
  std::string idat;
  int depth = 0, type = -1, interlace = 0;
  for (size_t at = 8; at + 12 <= f.size();) {
    const uint32_t len = Be32(f, at);
    const std::string kind = f.substr(at + 4, 4);
    if (at + 12 + len > f.size()) return {};
    if (kind == "IHDR") {
      im.width = Be32(f, at + 8), im.height = Be32(f, at + 12);
      depth = uint8_t(f[at + 16]), type = uint8_t(f[at + 17]), interlace = uint8_t(f[at + 20]);
    } else if (kind == "IDAT") {
      idat += f.substr(at + 8, len);
    }
    at += 12 + len;
  }
  if (depth != 8 || (type != 2 && type != 6) || interlace != 0) return {};
  im.channels = type == 2 ? 3 : 4;
  const size_t stride = size_t(im.width) * size_t(im.channels);
  std::vector<uint8_t> raw((stride + 1) * im.height);
  uLongf n = uLongf(raw.size());
  if (uncompress(raw.data(), &n, reinterpret_cast<const Bytef*>(idat.data()), uLong(idat.size())) != Z_OK || n != raw.size())
    return {};
  im.px.assign(stride * im.height, 0);
  const int bpp = im.channels;
  for (size_t y = 0; y < im.height; ++y) {
    const uint8_t filter = raw[y * (stride + 1)];
    const uint8_t* in = &raw[y * (stride + 1) + 1];
    uint8_t* out = &im.px[y * stride];
    const uint8_t* up = y ? &im.px[(y - 1) * stride] : nullptr;
    for (size_t x = 0; x < stride; ++x) {
      const int a = x >= size_t(bpp) ? out[x - bpp] : 0, b = up ? up[x] : 0, c = up && x >= size_t(bpp) ? up[x - bpp] : 0;
      int v = in[x];
      switch (filter) {
        case 0: break;
        case 1: v += a; break;
        case 2: v += b; break;
        case 3: v += (a + b) / 2; break;
        case 4: {
          const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
          v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default: return {};
      }
      out[x] = uint8_t(v);
    }
  }
  return im;
}

std::string FindChromium() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"})
    if (fs::exists(p)) return p;
  return "";
}

TEST(ReportRender, HeadlessChromiumScreenshot) {
  const std::string chromium = FindChromium();
  ASSERT_FALSE(chromium.empty()) << "chromium is not installed: scripts/setup.sh installs the Debian package chromium";
  const fs::path in = fs::path(::testing::TempDir()) / ("t81_render_in_" + std::to_string(::getpid()));
  const fs::path out = fs::path(T81_REPORT_ARTIFACTS);
  const fs::path profile = fs::path(::testing::TempDir()) / ("t81_render_profile_" + std::to_string(::getpid()));
  testing::WriteGoldenBenchmarks(in);
  fs::remove_all(out);
  const auto r = testing::ExecCommand(std::string(T81_BIN) + " report --in '" + in.string() + "' --out '" +
                                      (out / "report.html").string() + "'");
  ASSERT_EQ(r.rc, 0) << r.out;
  constexpr uint32_t kW = 1000, kH = 2000;
  const fs::path png = out / "report.png";
  const auto shot = testing::ExecCommand(
      "timeout 180 " + chromium + " --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run --user-data-dir='" +
      profile.string() + "' --screenshot='" + png.string() + "' --window-size=" + std::to_string(kW) + "," +
      std::to_string(kH) + " 'file://" + fs::absolute(out / "report.html").string() + "'");
  fs::remove_all(profile);
  fs::remove_all(in);
  ASSERT_TRUE(fs::exists(png)) << shot.out;
  std::ifstream f(png, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  const Image im = DecodePng(ss.str());
  ASSERT_EQ(im.width, kW) << "not an 8-bit RGB(A) PNG of the window's width";
  ASSERT_EQ(im.height, kH);
  size_t ink = 0, blue = 0, vermillion = 0;
  for (size_t i = 0; i + 2 < im.px.size(); i += size_t(im.channels)) {
    const int R = im.px[i], G = im.px[i + 1], B = im.px[i + 2];
    ink += R < 200 || G < 200 || B < 200;
    blue += std::abs(R - 0x00) < 24 && std::abs(G - 0x72) < 24 && std::abs(B - 0xB2) < 24;      // fp32 / train
    vermillion += std::abs(R - 0xD5) < 24 && std::abs(G - 0x5E) < 24 && std::abs(B - 0x00) < 24;  // ptq / validation
  }
  const size_t total = size_t(kW) * kH;
  EXPECT_GT(ink, total / 100) << "the page looks blank: " << png;
  EXPECT_LT(ink, total / 2) << "the page looks like one dark area: " << png;
  EXPECT_GT(blue, 50u) << "no Okabe-Ito blue (fp32 points, train curve) in " << png;
  EXPECT_GT(vermillion, 50u) << "no Okabe-Ito vermillion in " << png;
  std::printf("screenshot kept: %s (%u x %u, %zu ink pixels)\n", png.c_str(), im.width, im.height, ink);
}

}  // namespace
}  // namespace t81
