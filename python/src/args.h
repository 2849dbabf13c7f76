// Argument checks of the t81lib binding: every Python value is validated here, before any t81
// call, into a TypeError (wrong kind or dtype; no silent casts) or a ValueError (wrong shape,
// range or layout) with a one-line message naming the argument. Nothing from Python reaches a
// T81_CHECK.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <new>
#include <string>
#include <vector>

#include "t81/base/status.h"

namespace t81::python {

namespace py = pybind11;

inline std::string TypeName(py::handle o) { return Py_TYPE(o.ptr())->tp_name; }

[[noreturn]] inline void TypeError(const std::string& msg) { throw py::type_error(msg); }
[[noreturn]] inline void ValueError(const std::string& msg) { throw py::value_error(msg); }

// A failed Status from a t81 call becomes a ValueError with its message.
inline void RaiseIf(const Status& s) {
  if (!s.ok()) ValueError(s.message());
}
template <typename T>
T ValueOr(Result<T> r) {
  RaiseIf(r.status());
  return std::move(r).value();
}

inline std::string Num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

inline std::string ShapeText(const std::vector<int64_t>& s) {
  std::string t = "(";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + (s.size() == 1 ? ",)" : ")");
}

inline std::vector<int64_t> Shape(const py::array& a) {
  std::vector<int64_t> s(size_t(a.ndim()));
  for (size_t i = 0; i < s.size(); ++i) s[i] = int64_t(a.shape(py::ssize_t(i)));
  return s;
}

// A Python int (or numpy integer), not a bool.
inline int64_t ToInt(py::handle o, const std::string& name) {
  if (PyBool_Check(o.ptr()) || !PyIndex_Check(o.ptr()))
    TypeError(name + " must be an int (got " + TypeName(o) + ")");
  py::object idx = py::reinterpret_steal<py::object>(PyNumber_Index(o.ptr()));
  if (!idx) throw py::error_already_set();
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(idx.ptr(), &overflow);
  if (overflow) ValueError(name + " is out of range");
  if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
  return int64_t(v);
}

// A real number (int, float, numpy scalar), not a bool or a string.
inline double ToFloat(py::handle o, const std::string& name) {
  PyObject* p = o.ptr();
  const bool number = PyFloat_Check(p) || PyLong_Check(p) || PyObject_HasAttrString(p, "__float__");
  if (PyBool_Check(p) || PyUnicode_Check(p) || PyBytes_Check(p) || !number)
    TypeError(name + " must be a float (got " + TypeName(o) + ")");
  const double v = PyFloat_AsDouble(p);
  if (v == -1.0 && PyErr_Occurred()) throw py::error_already_set();
  return v;
}

inline float ToFiniteFloat(py::handle o, const std::string& name) {
  const double v = ToFloat(o, name);
  if (!std::isfinite(v) || !std::isfinite(float(v))) ValueError(name + " must be finite (got " + Num(v) + ")");
  return float(v);
}

// The quantizer's threshold: positive and finite as a float32 (what the C++ quantizer receives).
inline float ToThreshold(py::handle o) {
  const double v = ToFloat(o, "threshold");
  const float f = float(v);
  if (!(v > 0) || !std::isfinite(v) || !(f > 0) || !std::isfinite(f))
    ValueError("threshold must be positive and finite (got " + Num(v) + ")");
  return f;
}

inline std::string ToStr(py::handle o, const std::string& name) {
  if (!PyUnicode_Check(o.ptr())) TypeError(name + " must be a str (got " + TypeName(o) + ")");
  return o.cast<std::string>();
}

// threads=None: the current OpenMP thread count; else an int in [1, 1024].
inline int ToThreads(py::handle o) {
  if (o.is_none()) return 0;
  const int64_t n = ToInt(o, "threads");
  if (n < 1 || n > 1024) ValueError("threads must be between 1 and 1024 (got " + std::to_string(n) + ")");
  return int(n);
}

// A float32 numpy array: TypeError for anything else (no casts); C-contiguous (copied when it is
// not: the only copy an input ever gets); ndim checked when min_ndim/max_ndim say so.
inline py::array_t<float> Float32Array(py::handle o, const std::string& name, int min_ndim, int max_ndim) {
  if (!py::isinstance<py::array>(o)) TypeError(name + " must be a numpy float32 array (got " + TypeName(o) + ")");
  py::array a = py::reinterpret_borrow<py::array>(o);
  if (!py::array_t<float>::check_(a))
    TypeError(name + " must be float32 (got " + std::string(py::str(a.dtype())) + ")");
  if (a.ndim() < min_ndim || a.ndim() > max_ndim) {
    const std::string want = min_ndim == max_ndim ? std::to_string(min_ndim) + "-D"
                                                  : "at least " + std::to_string(min_ndim) + "-D";
    ValueError(name + " must be " + want + " (got shape " + ShapeText(Shape(a)) + ")");
  }
  if (!(a.flags() & py::array::c_style)) {
    a = py::array_t<float, py::array::c_style>::ensure(a);
    if (!a) throw std::bad_alloc();  // ensure() fails only when the copy cannot be made
  }
  return py::reinterpret_borrow<py::array_t<float>>(a);
}

// An output array written in place: float32, C-contiguous, writeable, of exactly `shape`.
inline py::array_t<float> OutArray(py::handle o, const std::string& name, const std::vector<int64_t>& shape) {
  if (!py::isinstance<py::array>(o)) TypeError(name + " must be a numpy float32 array (got " + TypeName(o) + ")");
  py::array a = py::reinterpret_borrow<py::array>(o);
  if (!py::array_t<float>::check_(a))
    TypeError(name + " must be float32 (got " + std::string(py::str(a.dtype())) + ")");
  if (Shape(a) != shape)
    ValueError(name + " must have shape " + ShapeText(shape) + " (got " + ShapeText(Shape(a)) + ")");
  if (!(a.flags() & py::array::c_style)) ValueError(name + " must be C-contiguous (it is written in place)");
  if (!a.writeable()) ValueError(name + " is read-only");
  return py::reinterpret_borrow<py::array_t<float>>(a);
}

// Rejects NaN and infinity in weights: the quantizer's statistics would silently zero the group.
inline void CheckFinite(const float* v, int64_t n, const std::string& name) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(v[i])) ValueError(name + " holds a non-finite value at flat index " + std::to_string(i));
}

}  // namespace t81::python
