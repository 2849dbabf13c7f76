// Scalar reference build of the nn layers' float vector operations (float_ops_impl.h), compiled with this
// directory's ISA flags and reached only through the kernel table.
#include <algorithm>
#include <cmath>

#include "t81/base/fastmath.h"
#include "t81/kernels/isa_tables.h"

namespace t81::kernels::ref {
#include "t81/kernels/float_ops_impl.h"
}  // namespace t81::kernels::ref
