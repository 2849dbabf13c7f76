"""Bad input to t81lib: every case raises the documented exception type with a one-line message,
and the interpreter survives them all (the last test still computes after every case ran)."""

import os
import shutil
import tempfile
import unittest

import numpy as np

import t81lib
from bad_input import check_cases
from fixtures import fixture

W = np.random.default_rng(0).standard_normal((16, 300), dtype=np.float32)
P = t81lib.pack_dense_matrix(W)
X = np.ones((4, 300), np.float32)
B = np.ones((300, 16), np.float32)
M = t81lib.load(fixture("gpt2-tiny"))  # V 1024, 64 positions
CLOSED = t81lib.load(fixture("gpt2-tiny"))
CLOSED.close()
TMP = tempfile.mkdtemp(prefix="t81_bad_")
NOT_A_MODEL = os.path.join(TMP, "x.gguf")
with open(NOT_A_MODEL, "wb") as f:
    f.write(b"GGUF" + b"\0" * 60)


def out(shape=(16, 16), dtype=np.float32, order="C"):
    return np.zeros(shape, dtype, order=order)


def readonly_out():
    o = out()
    o.flags.writeable = False
    return o


def tq2_with_code_3():
    data = bytearray(P.to_bytes())
    data[0] = 0xFF
    return bytes(data)


# (name, callable, exception type, a word the message must contain)
CASES = [
    # pack_dense_matrix / PackedMatrix.from_float
    ("float64 weights", lambda: t81lib.pack_dense_matrix(W.astype(np.float64)), TypeError, "float32"),
    ("int32 weights", lambda: t81lib.pack_dense_matrix(W.astype(np.int32)), TypeError, "float32"),
    ("float16 weights", lambda: t81lib.PackedMatrix.from_float(W.astype(np.float16)), TypeError, "float32"),
    ("list weights", lambda: t81lib.pack_dense_matrix([[1.0, 2.0]]), TypeError, "numpy"),
    ("1-D weights", lambda: t81lib.pack_dense_matrix(W[0]), ValueError, "2-D"),
    ("3-D weights", lambda: t81lib.pack_dense_matrix(W.reshape(2, 8, 300)), ValueError, "2-D"),
    ("empty weights", lambda: t81lib.pack_dense_matrix(np.zeros((0, 5), np.float32)), ValueError, "empty"),
    ("NaN weight", lambda: t81lib.pack_dense_matrix(np.array([[1.0, np.nan]], np.float32)), ValueError, "non-finite"),
    ("inf weight", lambda: t81lib.pack_dense_matrix(np.array([[np.inf, 1.0]], np.float32)), ValueError, "non-finite"),
    ("negative threshold", lambda: t81lib.pack_dense_matrix(W, threshold=-0.1), ValueError, "threshold"),
    ("zero threshold", lambda: t81lib.pack_dense_matrix(W, 0.0), ValueError, "threshold"),
    ("NaN threshold", lambda: t81lib.pack_dense_matrix(W, float("nan")), ValueError, "threshold"),
    ("inf threshold", lambda: t81lib.pack_dense_matrix(W, float("inf")), ValueError, "threshold"),
    ("threshold 0 in float32", lambda: t81lib.pack_dense_matrix(W, 1e-50), ValueError, "threshold"),
    ("threshold past float32", lambda: t81lib.pack_dense_matrix(W, 1e300), ValueError, "threshold"),
    ("str threshold", lambda: t81lib.pack_dense_matrix(W, "0.45"), TypeError, "threshold"),
    ("None threshold", lambda: t81lib.pack_dense_matrix(W, None), TypeError, "threshold"),
    ("bool threshold", lambda: t81lib.pack_dense_matrix(W, True), TypeError, "threshold"),
    ("unknown granularity", lambda: t81lib.pack_dense_matrix(W, granularity="column"), ValueError, "granularity"),
    ("int granularity", lambda: t81lib.pack_dense_matrix(W, granularity=3), TypeError, "granularity"),
    ("unknown format", lambda: t81lib.pack_dense_matrix(W, format="q4_0"), ValueError, "format"),
    ("positional granularity", lambda: t81lib.pack_dense_matrix(W, 0.45, "row"), TypeError, "argument"),
    ("PackedMatrix()", lambda: t81lib.PackedMatrix(), TypeError, "constructor"),
    # PackedMatrix.from_bytes
    ("bytes too short", lambda: t81lib.PackedMatrix.from_bytes(P.to_bytes()[:-1], (16, 300)), ValueError, "bytes"),
    ("bytes of another shape", lambda: t81lib.PackedMatrix.from_bytes(P.to_bytes(), (16, 600)), ValueError, "needs"),
    ("str data", lambda: t81lib.PackedMatrix.from_bytes("abc", (1, 1)), TypeError, "bytes-like"),
    ("shape not a tuple", lambda: t81lib.PackedMatrix.from_bytes(P.to_bytes(), 16), TypeError, "shape"),
    ("shape of 3", lambda: t81lib.PackedMatrix.from_bytes(P.to_bytes(), (16, 300, 1)), ValueError, "shape"),
    ("zero shape", lambda: t81lib.PackedMatrix.from_bytes(b"", (0, 300)), ValueError, "positive"),
    ("float in shape", lambda: t81lib.PackedMatrix.from_bytes(P.to_bytes(), (16.0, 300)), TypeError, "shape[0]"),
    ("TQ2_0 code 3", lambda: t81lib.PackedMatrix.from_bytes(tq2_with_code_3(), (16, 300)), ValueError, "code 3"),
    ("huge shape", lambda: t81lib.PackedMatrix.from_bytes(b"", (1 << 62, 1 << 62)), ValueError, "bytes"),
    # quantize_to_trits
    ("0-d values", lambda: t81lib.quantize_to_trits(np.float32(1.0)), TypeError, "numpy"),
    ("0-d array values", lambda: t81lib.quantize_to_trits(np.array(1.0, np.float32)), ValueError, "1-D"),
    ("float64 values", lambda: t81lib.quantize_to_trits(np.ones(5)), TypeError, "float32"),
    ("NaN values", lambda: t81lib.quantize_to_trits(np.array([np.nan], np.float32)), ValueError, "non-finite"),
    ("negative threshold (trits)", lambda: t81lib.quantize_to_trits(X, -1.0), ValueError, "threshold"),
    ("return_scales=1", lambda: t81lib.quantize_to_trits(X, return_scales=1), TypeError, "return_scales"),
    # linear
    ("float64 x", lambda: t81lib.linear(X.astype(np.float64), P), TypeError, "float32"),
    ("x of another width", lambda: t81lib.linear(np.ones((4, 299), np.float32), P), ValueError, "features"),
    ("0-d x", lambda: t81lib.linear(np.array(1.0, np.float32), P), ValueError, "x"),
    ("array as packed", lambda: t81lib.linear(X, W), TypeError, "PackedMatrix"),
    ("None as packed", lambda: t81lib.linear(X, None), TypeError, "PackedMatrix"),
    ("bias of another length", lambda: t81lib.linear(X, P, np.ones(15, np.float32)), ValueError, "bias"),
    ("float64 bias", lambda: t81lib.linear(X, P, np.ones(16)), TypeError, "bias"),
    ("2-D bias", lambda: t81lib.linear(X, P, np.ones((1, 16), np.float32)), ValueError, "bias"),
    ("unknown activations", lambda: t81lib.linear(X, P, activations="fp16"), ValueError, "activation"),
    ("threads=0", lambda: t81lib.linear(X, P, threads=0), ValueError, "threads"),
    ("threads=-2", lambda: t81lib.linear(X, P, threads=-2), ValueError, "threads"),
    ("threads=1e6", lambda: t81lib.linear(X, P, threads=10**6), ValueError, "threads"),
    ("threads=2**80", lambda: t81lib.linear(X, P, threads=2**80), ValueError, "threads"),
    ("threads=1.5", lambda: t81lib.linear(X, P, threads=1.5), TypeError, "threads"),
    ("threads=True", lambda: t81lib.linear(X, P, threads=True), TypeError, "threads"),
    # gemm_ternary
    ("float a", lambda: t81lib.gemm_ternary(W, B, out(), 16, 16, 300), TypeError, "PackedMatrix"),
    ("list b", lambda: t81lib.gemm_ternary(P, B.tolist(), out(), 16, 16, 300), TypeError, "b"),
    ("float64 b", lambda: t81lib.gemm_ternary(P, B.astype(np.float64), out(), 16, 16, 300), TypeError, "float32"),
    ("b of another shape", lambda: t81lib.gemm_ternary(P, B[:299], out(), 16, 16, 300), ValueError, "b"),
    ("packed b of another shape", lambda: t81lib.gemm_ternary(P, P, out(), 16, 16, 300), ValueError, "b"),
    ("float64 out", lambda: t81lib.gemm_ternary(P, B, out(dtype=np.float64), 16, 16, 300), TypeError, "out"),
    ("out of another shape", lambda: t81lib.gemm_ternary(P, B, out((16, 15)), 16, 16, 300), ValueError, "out"),
    ("Fortran-order out", lambda: t81lib.gemm_ternary(P, B, out(order="F"), 16, 16, 300), ValueError, "C-contiguous"),
    ("strided out", lambda: t81lib.gemm_ternary(P, B, out((16, 32))[:, ::2], 16, 16, 300), ValueError, "C-contiguous"),
    ("read-only out", lambda: t81lib.gemm_ternary(P, B, readonly_out(), 16, 16, 300), ValueError, "read-only"),
    ("list out", lambda: t81lib.gemm_ternary(P, B, [[0.0]], 16, 16, 300), TypeError, "out"),
    ("m = 0", lambda: t81lib.gemm_ternary(P, B, out(), 0, 16, 300), ValueError, "m"),
    ("m not a's rows", lambda: t81lib.gemm_ternary(P, B, out((15, 16)), 15, 16, 300), ValueError, "a has shape"),
    ("k not a's columns", lambda: t81lib.gemm_ternary(P, B, out(), 16, 16, 299), ValueError, "a has shape"),
    ("str m", lambda: t81lib.gemm_ternary(P, B, out(), "16", 16, 300), TypeError, "m"),
    ("float n", lambda: t81lib.gemm_ternary(P, B, out(), 16, 16.0, 300), TypeError, "n"),
    ("NaN alpha", lambda: t81lib.gemm_ternary(P, B, out(), 16, 16, 300, alpha=float("nan")), ValueError, "alpha"),
    ("inf beta", lambda: t81lib.gemm_ternary(P, B, out(), 16, 16, 300, beta=float("inf")), ValueError, "beta"),
    ("str alpha", lambda: t81lib.gemm_ternary(P, B, out(), 16, 16, 300, alpha="1"), TypeError, "alpha"),
    ("list timings", lambda: t81lib.gemm_ternary(P, B, out(), 16, 16, 300, timings=[]), TypeError, "timings"),
    ("missing k", lambda: t81lib.gemm_ternary(P, B, out(), 16, 16), TypeError, "argument"),
    # linear's out=
    ("float64 out (linear)", lambda: t81lib.linear(X, P, out=np.zeros((4, 16))), TypeError, "out"),
    ("out of another shape (linear)", lambda: t81lib.linear(X, P, out=np.zeros((4, 15), np.float32)), ValueError, "out"),
    ("strided out (linear)", lambda: t81lib.linear(X, P, out=np.zeros((4, 32), np.float32)[:, ::2]), ValueError,
     "C-contiguous"),
    # load and Model
    ("load of a missing path", lambda: t81lib.load(os.path.join(TMP, "none")), ValueError, "not a model"),
    ("load of a bad GGUF", lambda: t81lib.load(NOT_A_MODEL), ValueError, "x.gguf"),
    ("load of an empty folder", lambda: t81lib.load(TMP), ValueError, "config.json"),
    ("load(None)", lambda: t81lib.load(None), TypeError, "NoneType"),
    ("float ids", lambda: M.forward(np.ones(4)), TypeError, "integer"),
    ("str ids (forward)", lambda: M.forward("hello"), TypeError, "ids"),
    ("float in list ids", lambda: M.forward([1, 2.0]), TypeError, "ids[1]"),
    ("3-D ids", lambda: M.forward(np.zeros((1, 1, 4), np.int64)), ValueError, "ids"),
    ("empty ids", lambda: M.forward(np.zeros(0, np.int64)), ValueError, "empty"),
    ("id past the vocabulary", lambda: M.forward([1, 1024]), ValueError, "outside"),
    ("negative id", lambda: M.forward([-1, 2]), ValueError, "outside"),
    ("ids past the context", lambda: M.forward(np.zeros(65, np.int64)), ValueError, "positions"),
    ("2-D ids (generate)", lambda: M.generate(np.zeros((2, 3), np.int64), 2), ValueError, "1-D"),
    ("negative max_new_tokens", lambda: M.generate([1, 2], -1), ValueError, "max_new_tokens"),
    ("float max_new_tokens", lambda: M.generate([1, 2], 2.0), TypeError, "max_new_tokens"),
    ("generate past the context", lambda: M.generate([1, 2], 63), ValueError, "positions"),
    ("NaN temperature", lambda: M.generate([1, 2], 2, temperature=float("nan")), ValueError, "temperature"),
    ("negative temperature", lambda: M.generate([1, 2], 2, temperature=-1.0), ValueError, "temperature"),
    ("perplexity of one token", lambda: M.perplexity([5]), ValueError, "2 tokens"),
    ("negative ctx", lambda: M.perplexity([5, 6, 7], ctx=-1), ValueError, "ctx"),
    ("text without a tokenizer", lambda: M.perplexity("some text"), ValueError, "tokenizer"),
    ("forward after close", lambda: CLOSED.forward([1, 2]), ValueError, "closed"),
    ("generate after close", lambda: CLOSED.generate([1, 2], 1), ValueError, "closed"),
    ("perplexity after close", lambda: CLOSED.perplexity([1, 2]), ValueError, "closed"),
    ("config after close", lambda: CLOSED.config, ValueError, "closed"),
    ("Model()", lambda: t81lib.Model(), TypeError, "constructor"),
    # convert_checkpoint
    ("convert: negative threshold", lambda: t81lib.convert_checkpoint(fixture("gpt2-tiny"), TMP + "/o", -1.0),
     ValueError, "threshold"),
    ("convert: NaN threshold", lambda: t81lib.convert_checkpoint(fixture("gpt2-tiny"), TMP + "/o", float("nan")),
     ValueError, "threshold"),
    ("convert: unknown granularity",
     lambda: t81lib.convert_checkpoint(fixture("gpt2-tiny"), TMP + "/o", granularity="col"), ValueError, "granularity"),
    ("convert: unknown float type",
     lambda: t81lib.convert_checkpoint(fixture("gpt2-tiny"), TMP + "/o", float_type="bf16"), ValueError, "f32"),
    ("convert: missing folder", lambda: t81lib.convert_checkpoint(TMP + "/none", TMP + "/o"), ValueError, "none"),
]


def tearDownModule():
    M.close()
    shutil.rmtree(TMP, ignore_errors=True)


class BadInputTest(unittest.TestCase):
    def test_each_case_raises_one_line(self):
        check_cases(self, CASES)

    def test_zz_interpreter_still_computes(self):
        y = t81lib.linear(X, P)
        np.testing.assert_allclose(y, X @ P.dequantize().T, rtol=1e-4, atol=1e-3)
        self.assertEqual(M.forward([1, 2, 3]).shape, (3, 1024))
        self.assertEqual(len(M.generate([1, 2], 3)), 5)


if __name__ == "__main__":
    unittest.main()
