// Internal to BuildPage: one builder per section of the report.
#pragma once

#include "t81/report/data.h"
#include "t81/report/page.h"

namespace t81::report::internal {

Section FashionSection(const BenchData& d);  // benchmark 1
Section CurvesSection(const BenchData& d);   // loss curves
Section LmSection(const BenchData& d);       // benchmark 2
Section VitSection(const BenchData& d);      // benchmark 3
Section GgufSection(const BenchData& d);     // benchmark 4
Section GemmSection(const BenchData& d);     // benchmark 5

}  // namespace t81::report::internal
