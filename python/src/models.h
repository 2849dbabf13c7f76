// _t81lib's language-model bindings (models.cc): t81lib.Model, load, convert_checkpoint.
#pragma once

#include <pybind11/pybind11.h>

namespace t81::python {
void BindModels(pybind11::module_& mod);
}  // namespace t81::python
