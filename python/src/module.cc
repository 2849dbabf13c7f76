// _t81lib: t81's quantizer, TQ1_0/TQ2_0 blocks and packed kernels for numpy (the t81lib package).
//
// Arrays come in zero-copy when they are float32 and C-contiguous (otherwise one copy to C
// order; never a dtype cast) and every result is a new array, except gemm_ternary's `out`,
// which is written in place. The kernels run with the GIL released.
#include <omp.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "models.h"
#include "t81/base/fp16.h"
#include "t81/kernels/kernels.h"
#include "t81/nn/packed_linear.h"
#include "t81/quant/tq.h"

#ifndef T81_VERSION
#error "T81_VERSION must be defined by the build (the project version, as t81 --version prints it)"
#endif

namespace t81::python {
namespace {

// A ternary weight matrix W (rows, cols): its TQ blocks (the storage and GGUF form) and the
// kernel table's compute layout, repacked once when the matrix is made.
struct PackedMatrix {
  quant::TernaryMatrix tm;
  kernels::PackedWeights pw;
  std::string granularity;  // empty when made from bytes (the blocks do not record it)
  float threshold = 0;      // 0 when made from bytes
};
using Packed = std::shared_ptr<PackedMatrix>;

// Runs the enclosed t81 calls on `n` OpenMP threads (0: as they are) and restores the count.
// omp_set_num_threads sets the calling thread's count only, so concurrent Python threads do not
// disturb each other.
class ThreadScope {
 public:
  explicit ThreadScope(int n) : n_(n), saved_(omp_get_max_threads()) {
    if (n_ > 0) omp_set_num_threads(n_);
  }
  ~ThreadScope() {
    if (n_ > 0) omp_set_num_threads(saved_);
  }
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;

 private:
  int n_, saved_;
};

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

Packed AsPacked(py::handle o, const std::string& name) {
  if (!py::isinstance<PackedMatrix>(o))
    TypeError(name + " must be a t81lib.PackedMatrix (got " + TypeName(o) + ")");
  return o.cast<Packed>();
}

void FinishPacked(PackedMatrix* p) { p->pw = kernels::Repack(p->tm); }

Packed FromFloat(py::handle weights, py::handle threshold, py::handle granularity, py::handle format) {
  const float thr = ToThreshold(threshold);
  const std::string gname = ToStr(granularity, "granularity");
  const quant::Granularity g = ValueOr(quant::ParseGranularity(gname));
  const quant::TqFormat f = ValueOr(quant::ParseTqFormat(ToStr(format, "format")));
  const py::array_t<float> a = Float32Array(weights, "weights", 2, 2);
  const int64_t rows = a.shape(0), cols = a.shape(1);
  if (rows == 0 || cols == 0) ValueError("weights must not be empty (got shape " + ShapeText(Shape(a)) + ")");
  CheckFinite(a.data(), rows * cols, "weights");
  auto p = std::make_shared<PackedMatrix>();
  p->granularity = quant::GranularityName(g);
  p->threshold = thr;
  const float* w = a.data();
  {
    py::gil_scoped_release nogil;
    p->tm = quant::QuantizeMatrix(w, rows, cols, g, thr, f);
    FinishPacked(p.get());
  }
  return p;
}

// TQ blocks as bytes (to_bytes' output, a GGUF tensor's data): checked, then re-packed so the
// padding trits past `cols` are zero whatever the source held.
Packed FromBytes(py::handle data, py::handle shape, py::handle format) {
  const quant::TqFormat f = ValueOr(quant::ParseTqFormat(ToStr(format, "format")));
  if (!py::isinstance<py::tuple>(shape) && !py::isinstance<py::list>(shape))
    TypeError("shape must be a tuple (rows, cols) (got " + TypeName(shape) + ")");
  const py::sequence s = py::reinterpret_borrow<py::sequence>(shape);
  if (s.size() != 2) ValueError("shape must be (rows, cols) (got " + std::to_string(s.size()) + " values)");
  const py::object s0 = s[0], s1 = s[1];
  const int64_t rows = ToInt(s0, "shape[0]"), cols = ToInt(s1, "shape[1]");
  if (rows <= 0 || cols <= 0)
    ValueError("shape must be positive (got (" + std::to_string(rows) + ", " + std::to_string(cols) + "))");
  Py_buffer view;
  if (PyObject_GetBuffer(data.ptr(), &view, PyBUF_SIMPLE) != 0) {
    PyErr_Clear();
    TypeError("data must be a contiguous bytes-like object (got " + TypeName(data) + ")");
  }
  auto p = std::make_shared<PackedMatrix>();
  p->tm.format = f;
  p->tm.rows = rows;
  p->tm.cols = cols;
  const int64_t bb = quant::TqBlockBytes(f), kb = quant::BlocksPerRow(cols);
  const bool representable = rows <= (int64_t(1) << 48) / (kb * bb);  // no overflow below
  const bool size_ok = representable && view.len == rows * kb * bb;
  if (size_ok) p->tm.data.assign(static_cast<const uint8_t*>(view.buf), static_cast<const uint8_t*>(view.buf) + view.len);
  const int64_t got = int64_t(view.len);
  PyBuffer_Release(&view);
  if (!size_ok)
    ValueError("data holds " + std::to_string(got) + " bytes; " + quant::TqFormatName(f) + " (" + std::to_string(rows) +
               ", " + std::to_string(cols) + ") needs " + (representable ? std::to_string(rows * kb * bb) : "more than 2^48"));
  for (int64_t i = 0; i < rows * kb; ++i) {
    const uint8_t* b = p->tm.data.data() + i * bb;
    uint16_t d;
    std::memcpy(&d, b + bb - 2, 2);
    if (!std::isfinite(base::Fp16ToFp32(d)))
      ValueError("block " + std::to_string(i) + " has a non-finite scale");
    if (f == quant::TqFormat::kTq2_0)
      for (int j = 0; j < 64; ++j)
        for (int sh = 0; sh < 8; sh += 2)
          if (((b[j] >> sh) & 3) == 3) ValueError("block " + std::to_string(i) + " holds the TQ2_0 code 3 (not a trit)");
  }
  {
    py::gil_scoped_release nogil;
    std::vector<int8_t> t(size_t(rows * cols));
    std::vector<float> d(size_t(rows * kb));
    quant::UnpackTernary(p->tm, t.data(), d.data());
    p->tm = quant::PackTernary(t.data(), d.data(), rows, cols, f);
    FinishPacked(p.get());
  }
  return p;
}

py::array_t<float> Dequantized(const PackedMatrix& p) {
  py::array_t<float> out({p.tm.rows, p.tm.cols});
  float* o = out.mutable_data();
  py::gil_scoped_release nogil;
  quant::Dequantize(p.tm, o);
  return out;
}

// (trits (rows, cols) int8, block scales (rows, blocks) float32) of the stored blocks.
std::pair<py::array_t<int8_t>, py::array_t<float>> Unpacked(const PackedMatrix& p) {
  py::array_t<int8_t> t({p.tm.rows, p.tm.cols});
  py::array_t<float> d({p.tm.rows, p.tm.blocks_per_row()});
  int8_t* tp = t.mutable_data();
  float* dp = d.mutable_data();
  {
    py::gil_scoped_release nogil;
    quant::UnpackTernary(p.tm, tp, dp);
  }
  return {t, d};
}

std::string Repr(const PackedMatrix& p) {
  std::string s = "PackedMatrix(shape=(" + std::to_string(p.tm.rows) + ", " + std::to_string(p.tm.cols) +
                  "), format='" + quant::TqFormatName(p.tm.format) + "'";
  if (!p.granularity.empty()) s += ", granularity='" + p.granularity + "', threshold=" + Num(p.threshold);
  return s + ", nbytes=" + std::to_string(p.tm.bytes()) + ")";
}

py::object QuantizeToTrits(py::handle values, py::handle threshold, py::handle granularity, py::handle return_scales) {
  const float thr = ToThreshold(threshold);
  const quant::Granularity g = ValueOr(quant::ParseGranularity(ToStr(granularity, "granularity")));
  if (!PyBool_Check(return_scales.ptr()))
    TypeError("return_scales must be a bool (got " + TypeName(return_scales) + ")");
  const py::array_t<float> a = Float32Array(values, "values", 1, 32);
  std::vector<int64_t> shape = Shape(a);
  const int64_t cols = shape.back();
  int64_t rows = 1;
  for (size_t i = 0; i + 1 < shape.size(); ++i) rows *= shape[i];
  CheckFinite(a.data(), rows * cols, "values");
  py::array_t<int8_t> trits(shape);
  shape.back() = quant::BlocksPerRow(cols);
  py::array_t<float> scales(shape);
  const float* w = a.data();
  int8_t* t = trits.mutable_data();
  float* d = scales.mutable_data();
  {
    py::gil_scoped_release nogil;
    quant::Ternarize(w, rows, cols, g, thr, t, d);
  }
  if (return_scales.ptr() == Py_True) return py::make_tuple(trits, scales);
  return trits;
}

py::array_t<float> Linear(py::handle x, py::handle packed, py::handle bias, py::handle activations, py::handle threads,
                          py::handle out_obj) {
  const Packed p = AsPacked(packed, "packed");
  const py::array_t<float> xa = Float32Array(x, "x", 1, 32);
  const nn::ActPath act = ValueOr(nn::ParseActPath(ToStr(activations, "activations")));
  const int nthreads = ToThreads(threads);
  std::vector<int64_t> shape = Shape(xa);
  const int64_t C = shape.back(), OC = p->tm.rows;
  if (C != p->tm.cols)
    ValueError("x has " + std::to_string(C) + " features in its last dimension; the packed matrix " +
               ShapeText({p->tm.rows, p->tm.cols}) + " needs " + std::to_string(p->tm.cols));
  py::array_t<float> ba;
  if (!bias.is_none()) {
    ba = Float32Array(bias, "bias", 1, 1);
    if (ba.shape(0) != OC)
      ValueError("bias must have shape (" + std::to_string(OC) + ",) (got " + ShapeText(Shape(ba)) + ")");
  }
  int64_t N = 1;
  for (size_t i = 0; i + 1 < shape.size(); ++i) N *= shape[i];
  shape.back() = OC;
  // out=: written in place (float32, C-contiguous, x.shape[:-1] + (rows,)); never aliasing x.
  py::array_t<float> out = out_obj.is_none() ? py::array_t<float>(shape) : OutArray(out_obj, "out", shape);
  if (!out_obj.is_none()) {
    const char* o0 = static_cast<const char*>(out.request().ptr);
    const char* x0 = reinterpret_cast<const char*>(xa.data());
    if (o0 < x0 + xa.nbytes() && x0 < o0 + out.nbytes()) ValueError("out must not overlap x");
  }
  const float* xp = xa.data();
  const float* bp = bias.is_none() ? nullptr : ba.data();
  float* op = out.mutable_data();
  if (N == 0) return out;
  {
    py::gil_scoped_release nogil;
    ThreadScope ts(nthreads);
    kernels::QuantizedActs scratch;
    nn::PackedLinear(kernels::Active(), p->pw, act, xp, N, C, bp, op, &scratch);
  }
  return out;
}

// dst (cols, rows) = srcᵀ for a row-major src (rows, cols), in 8 × 8 tiles: 8 rows of a tile
// read and 8 written stay within an 8-way L1 even when the row strides are multiples of 4 KiB.
void Transpose(const float* src, int64_t rows, int64_t cols, float* dst) {
  constexpr int64_t T = 8;
  const int64_t tiles_r = (rows + T - 1) / T;
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16))
  for (int64_t tr = 0; tr < tiles_r; ++tr) {
    const int64_t r0 = tr * T, r1 = std::min(rows, r0 + T);
    for (int64_t c0 = 0; c0 < cols; c0 += T) {
      const int64_t c1 = std::min(cols, c0 + T);
      for (int64_t c = c0; c < c1; ++c)
        for (int64_t r = r0; r < r1; ++r) dst[c * rows + r] = src[r * cols + c];
    }
  }
}

// out (m, n) = alpha · A·B + beta · out, A (m, k) packed, B (k, n) float32 or packed (dequantized).
// The engine computes Y = X·Wᵀ; here X = Bᵀ (n, k), W = A, Y = outᵀ (n, m): the transposes of B
// and of out (in, and back when beta ≠ 0) are the binding's cost; `timings` reports them.
void GemmTernary(py::handle a, py::handle b, py::handle out, py::handle m_, py::handle n_, py::handle k_,
                 py::handle alpha_, py::handle beta_, py::handle threads, py::handle timings) {
  const Packed A = AsPacked(a, "a");
  const int64_t m = ToInt(m_, "m"), n = ToInt(n_, "n"), k = ToInt(k_, "k");
  for (auto [v, name] : {std::pair{m, "m"}, {n, "n"}, {k, "k"}})
    if (v <= 0) ValueError(std::string(name) + " must be positive (got " + std::to_string(v) + ")");
  const float alpha = ToFiniteFloat(alpha_, "alpha"), beta = ToFiniteFloat(beta_, "beta");
  const int nthreads = ToThreads(threads);
  if (!timings.is_none() && !py::isinstance<py::dict>(timings))
    TypeError("timings must be a dict or None (got " + TypeName(timings) + ")");
  if (A->tm.rows != m || A->tm.cols != k)
    ValueError("a has shape " + ShapeText({A->tm.rows, A->tm.cols}) + " but (m, k) = " + ShapeText({m, k}));
  Packed B;
  py::array_t<float> bf;
  if (py::isinstance<PackedMatrix>(b)) {
    B = b.cast<Packed>();
    if (B->tm.rows != k || B->tm.cols != n)
      ValueError("b has shape " + ShapeText({B->tm.rows, B->tm.cols}) + " but (k, n) = " + ShapeText({k, n}));
  } else {
    if (!py::isinstance<py::array>(b))
      TypeError("b must be a t81lib.PackedMatrix or a numpy float32 array (got " + TypeName(b) + ")");
    bf = Float32Array(b, "b", 2, 2);
    if (bf.shape(0) != k || bf.shape(1) != n)
      ValueError("b must have shape " + ShapeText({k, n}) + " (got " + ShapeText(Shape(bf)) + ")");
  }
  py::array_t<float> o = OutArray(out, "out", {m, n});
  float* op = o.mutable_data();
  const float* bp = B ? nullptr : bf.data();
  double t_in = 0, t_kernel = 0, t_out = 0;
  {
    py::gil_scoped_release nogil;
    ThreadScope ts(nthreads);
    double t0 = Now();
    // Uninitialized: every element is written before it is read (beta = 0: y is not read).
    const std::unique_ptr<float[]> x(new float[size_t(n * k)]), y(new float[size_t(n * m)]);
    if (B) {
      const std::unique_ptr<float[]> bd(new float[size_t(k * n)]);
      quant::Dequantize(B->tm, bd.get());
      Transpose(bd.get(), k, n, x.get());
    } else {
      Transpose(bp, k, n, x.get());
    }
    if (beta != 0.0f) Transpose(op, m, n, y.get());
    double t1 = Now();
    t_in = t1 - t0;
    kernels::GemmF32(kernels::Active(), A->pw, x.get(), n, k, y.get(), m, alpha, beta);
    t0 = Now();
    t_kernel = t0 - t1;
    Transpose(y.get(), n, m, op);
    t_out = Now() - t0;
  }
  if (!timings.is_none()) {
    py::dict d = py::reinterpret_borrow<py::dict>(timings);
    d["transpose_in_s"] = t_in;
    d["kernel_s"] = t_kernel;
    d["transpose_out_s"] = t_out;
  }
}

}  // namespace
}  // namespace t81::python

PYBIND11_MODULE(_t81lib, mod) {
  using namespace t81;
  using namespace t81::python;
  namespace py = pybind11;
  mod.doc() = "t81's ternary quantizer, TQ1_0/TQ2_0 blocks and packed kernels over numpy arrays";
  mod.attr("__version__") = T81_VERSION;
  const py::float_ kThr(double(quant::kDefaultThreshold));

  py::class_<PackedMatrix, Packed>(mod, "PackedMatrix",
                                   "A ternary matrix W (rows, cols) = α · trit in TQ1_0/TQ2_0 blocks of 256 weights.")
      .def_static("from_float", &FromFloat, py::arg("weights"), py::arg("threshold") = kThr, py::kw_only(),
                  py::arg("granularity") = "block", py::arg("format") = "tq2_0",
                  "Quantize a float32 (rows, cols) matrix with t81's quantizer and pack it.")
      .def_static("from_bytes", &FromBytes, py::arg("data"), py::arg("shape"), py::kw_only(),
                  py::arg("format") = "tq2_0", "A matrix from TQ1_0/TQ2_0 block bytes (e.g. to_bytes() or a GGUF tensor).")
      .def_property_readonly("shape", [](const PackedMatrix& p) { return py::make_tuple(p.tm.rows, p.tm.cols); })
      .def_property_readonly("format", [](const PackedMatrix& p) { return quant::TqFormatName(p.tm.format); })
      .def_property_readonly("granularity", [](const PackedMatrix& p) -> py::object {
        if (p.granularity.empty()) return py::none();
        return py::str(p.granularity);
      })
      .def_property_readonly("threshold", [](const PackedMatrix& p) -> py::object {
        if (p.granularity.empty()) return py::none();
        return py::float_(double(p.threshold));
      })
      .def_property_readonly("nbytes", [](const PackedMatrix& p) { return p.tm.bytes(); })
      .def("dequantize", &Dequantized, "α · trit as a new float32 (rows, cols) array.")
      .def("trits", [](const PackedMatrix& p) { return Unpacked(p).first; }, "The trits as int8 (rows, cols).")
      .def("scales", [](const PackedMatrix& p) { return Unpacked(p).second; },
           "The α of every 256-block as float32 (rows, blocks).")
      .def("to_bytes", [](const PackedMatrix& p) {
        return py::bytes(reinterpret_cast<const char*>(p.tm.data.data()), p.tm.data.size());
      }, "The TQ1_0/TQ2_0 blocks, byte for byte as GGUF stores them.")
      .def("__repr__", &Repr);

  mod.def("pack_dense_matrix", &FromFloat, py::arg("weights"), py::arg("threshold") = kThr, py::kw_only(),
          py::arg("granularity") = "block", py::arg("format") = "tq2_0",
          "PackedMatrix.from_float: t81's quantizer, TQ2_0 blocks, α per 256-block by default.");
  mod.def("quantize_to_trits", &QuantizeToTrits, py::arg("values"), py::arg("threshold") = kThr, py::kw_only(),
          py::arg("granularity") = "block", py::arg("return_scales") = false,
          "Trits (int8, the shape of values) of t81's quantizer over the last axis; with return_scales, "
          "also the α of every 256-block (float32, shape[:-1] + (blocks,)).");
  mod.def("linear", &Linear, py::arg("x"), py::arg("packed"), py::arg("bias") = py::none(), py::kw_only(),
          py::arg("activations") = "f32", py::arg("threads") = py::none(), py::arg("out") = py::none(),
          "x · Wᵀ (+ bias) through t81's packed kernels; activations 'f32', 'int8' or 'auto'; "
          "out: a float32 C-contiguous array of the result's shape, written in place and returned.");
  mod.def("gemm_ternary", &GemmTernary, py::arg("a"), py::arg("b"), py::arg("out"), py::arg("m"), py::arg("n"),
          py::arg("k"), py::arg("alpha") = 1.0, py::arg("beta") = 0.0, py::kw_only(), py::arg("threads") = py::none(),
          py::arg("timings") = py::none(),
          "out = alpha · A·B + beta · out in place; A packed (m, k), B float32 or packed (k, n).");
  BindModels(mod);
  mod.def("isa", [] { return kernels::IsaName(kernels::Active().isa); },
          "The kernel table in use: scalar, avx2, avx512 or amx (T81_ISA overrides, read once).");
  mod.def("supported_isas", [] {
    py::list l;
    for (kernels::Isa isa : kernels::kAllIsas)
      if (kernels::Supported(isa)) l.append(kernels::IsaName(isa));
    return l;
  }, "The kernel tables this CPU can run.");
}
