#include "t81/base/threads.h"

#include <omp.h>

#include <cblas.h>

#include "t81/base/check.h"

namespace t81::base {

void SetNumThreads(int n) {
  T81_CHECK(n >= 1);
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

int NumThreads() { return omp_get_max_threads(); }

}  // namespace t81::base
