"""t81lib against numpy and against the C++ side: the seed's benchmark 5 snippet, the quantizer
(restated in numpy, and the C++ tq_reference's trits / scales / TQ bytes), TQ bytes decoded
independently, linear() on every ISA, gemm_ternary(), the version.

Run by ctest (label python) with PYTHONPATH=build/python; T81_BIN and T81_TQ_REFERENCE name the
C++ binaries.

Tolerances (derived, not tuned): a float32 sum of K products carries at most about K·u of the
sum of their magnitudes (u = 2^-24) plus one rounding per multiply, so the f32 path is held to
4·K·u·Σ|x·w| (a factor 4 margin). The int8 path also quantizes each activation row to
round(x·127/amax): each element moves by at most amax/254, so it adds Σ|w|·amax/254.
"""

import os
import subprocess
import sys
import tempfile
import threading
import unittest

import numpy as np

import t81lib

U = 2.0**-24
ISAS = ("scalar", "avx2", "avx512", "amx")

SEED_SNIPPET = """\
import numpy as np
import t81lib

m, n, k = 1024, 1024, 1024
weights = np.random.randn(m, k).astype(np.float32)
packed = t81lib.pack_dense_matrix(weights, threshold=0.45)
rhs = np.random.randn(k, n).astype(np.float32)
out = np.zeros((m, n), dtype=np.float32)
t81lib.gemm_ternary(packed, packed, out, m, n, k)
print("gemm_ternary OK", out.shape)
"""


def rng(seed):
    return np.random.default_rng(seed)


def ref_quantize(values, threshold, granularity):
    """quant/ternary.h restated: per group Δ = threshold·mean|w|; trit = sign(w) if |w| > Δ;
    α = mean |w| of the kept weights (0 if none) as float32, clamped to 65504, rounded to fp16.
    Returns trits (values' shape) and block scales (shape[:-1] + (blocks,))."""
    w = np.asarray(values, np.float32)
    cols = w.shape[-1]
    rows = w.reshape(-1, cols)
    kb = -(-cols // 256)
    thr = float(np.float32(threshold))
    trits = np.zeros(rows.shape, np.int8)
    scales = np.zeros((rows.shape[0], kb), np.float32)

    def group(g):
        a = np.abs(g.astype(np.float64))
        keep = a > thr * (a.sum() / a.size)
        t = np.where(keep, np.where(g > 0, 1, -1), 0).astype(np.int8)
        if not keep.any():
            return t, np.float32(0)
        alpha = min(np.float32(a[keep].sum() / keep.sum()), np.float32(65504))
        return t, np.float32(np.float16(alpha))

    if granularity == "tensor":
        t, alpha = group(rows)
        trits[:], scales[:] = t, alpha
    for r in range(rows.shape[0] if granularity != "tensor" else 0):
        if granularity == "row":
            trits[r], scales[r] = group(rows[r])
        else:
            for b in range(kb):
                trits[r, 256 * b : 256 * (b + 1)], scales[r, b] = group(rows[r, 256 * b : 256 * (b + 1)])
    return trits.reshape(w.shape), scales.reshape(w.shape[:-1] + (kb,))


def _blocks(data, rows, cols, nbytes):
    kb = -(-cols // 256)
    blk = np.frombuffer(data, np.uint8).reshape(rows, kb, nbytes)
    d = blk[..., nbytes - 2 :].copy().view("<f2")[..., 0].astype(np.float32)
    return blk, kb, d


def decode_tq2_0(data, rows, cols):
    """ggml's TQ2_0: element 128c + 32n + m is bits [2n, 2n+1] of qs[32c + m]; u = t + 1; fp16 d."""
    blk, kb, d = _blocks(data, rows, cols, 66)
    t = np.empty((rows, kb, 256), np.int8)
    for c in range(2):
        for n in range(4):
            q = blk[..., 32 * c : 32 * c + 32]
            t[..., 128 * c + 32 * n : 128 * c + 32 * n + 32] = ((q >> (2 * n)) & 3).astype(np.int8) - 1
    return t.reshape(rows, kb * 256)[:, :cols], d


def decode_tq1_0(data, rows, cols):
    """ggml's TQ1_0: base-3 bytes ceil(v·256/243), digit k = ((b·3^k mod 256)·3) >> 8;
    qs[m] (m < 32): elements m + 32n; qs[32 + m] (m < 16): 160 + m + 16n; qh[j]: 240 + j + 4n."""
    blk, kb, d = _blocks(data, rows, cols, 54)

    def digit(b, k):
        return ((((b.astype(np.uint16) * 3**k) & 255) * 3) >> 8).astype(np.int8) - 1

    t = np.empty((rows, kb, 256), np.int8)
    for n in range(5):
        t[..., 32 * n : 32 * n + 32] = digit(blk[..., 0:32], n)
        t[..., 160 + 16 * n : 176 + 16 * n] = digit(blk[..., 32:48], n)
    for n in range(4):
        t[..., 240 + 4 * n : 244 + 4 * n] = digit(blk[..., 48:52], n)
    return t.reshape(rows, kb * 256)[:, :cols], d


def expand(scales, cols):
    return np.repeat(scales, 256, axis=-1)[..., :cols]


def linear_tolerance(x, w, int8):
    """Per-output bound of |t81 - float64 reference| (module docstring)."""
    x64, w64 = x.astype(np.float64).reshape(-1, x.shape[-1]), w.astype(np.float64)
    tol = 4 * x.shape[-1] * U * (np.abs(x64) @ np.abs(w64).T) + 1e-6
    if int8:
        amax = np.abs(x64).max(axis=1, keepdims=True)
        tol += amax / 254 * np.abs(w64).sum(axis=1)[None, :]
    return tol.reshape(x.shape[:-1] + (w.shape[0],))


class SeedSnippetTest(unittest.TestCase):
    def test_seed_snippet_verbatim(self):
        r = subprocess.run([sys.executable, "-c", SEED_SNIPPET], capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "gemm_ternary OK (1024, 1024)\n")

    def test_seed_product_equals_numpy(self):
        # The snippet's call (A passed as B) is A·A of the dequantized weights.
        m = n = k = 1024
        weights = rng(1).standard_normal((m, k), dtype=np.float32)
        packed = t81lib.pack_dense_matrix(weights, threshold=0.45)
        self.assertEqual((packed.format, packed.granularity), ("tq2_0", "block"))
        out = np.zeros((m, n), dtype=np.float32)
        t81lib.gemm_ternary(packed, packed, out, m, n, k)
        a = packed.dequantize().astype(np.float64)
        ref = a @ a
        tol = 4 * k * U * (np.abs(a) @ np.abs(a)) + 1e-6
        self.assertTrue(np.all(np.abs(out - ref) <= tol), np.max(np.abs(out - ref) - tol))

    def test_gemm_float_b_alpha_beta(self):
        m, n, k = 70, 33, 300
        g = rng(2)
        a = t81lib.pack_dense_matrix(g.standard_normal((m, k), dtype=np.float32), 0.6, granularity="row", format="tq1_0")
        b = np.asfortranarray(g.standard_normal((k, n), dtype=np.float32))  # not C-contiguous: copied
        out0 = g.standard_normal((m, n), dtype=np.float32)
        out = out0.copy()
        timings = {}
        t81lib.gemm_ternary(a, b, out, m, n, k, alpha=0.5, beta=-2.0, timings=timings)
        ad, b64 = a.dequantize().astype(np.float64), b.astype(np.float64)
        ref = 0.5 * (ad @ b64) - 2.0 * out0
        tol = 0.5 * 4 * k * U * (np.abs(ad) @ np.abs(b64)) + 2 * U * np.abs(2.0 * out0) + 1e-6
        self.assertTrue(np.all(np.abs(out - ref) <= tol))
        self.assertEqual(sorted(timings), ["kernel_s", "transpose_in_s", "transpose_out_s"])

    def test_gemm_beta_zero_does_not_read_out(self):
        a = t81lib.pack_dense_matrix(rng(3).standard_normal((20, 40), dtype=np.float32))
        b = rng(4).standard_normal((40, 9), dtype=np.float32)
        out = np.full((20, 9), np.nan, np.float32)
        t81lib.gemm_ternary(a, b, out, 20, 9, 40)
        self.assertTrue(np.all(np.isfinite(out)))


class QuantizerTest(unittest.TestCase):
    def test_matches_the_quantizer_restated_in_numpy(self):
        g = rng(5)
        for shape in [(3, 700), (2, 4, 300), (1000,), (5, 256)]:
            w = (g.standard_normal(shape) * g.uniform(0.01, 3)).astype(np.float32)
            for gran in ("tensor", "row", "block"):
                for thr in (0.45, 0.7, 1.3):
                    with self.subTest(shape=shape, granularity=gran, threshold=thr):
                        t, s = t81lib.quantize_to_trits(w, thr, granularity=gran, return_scales=True)
                        rt, rs = ref_quantize(w, thr, gran)
                        self.assertEqual((t.dtype, t.shape), (np.int8, w.shape))
                        np.testing.assert_array_equal(t, rt)
                        np.testing.assert_array_equal(s, rs)
        self.assertEqual(t81lib.quantize_to_trits(w).dtype, np.int8)  # block granularity by default
        np.testing.assert_array_equal(t81lib.quantize_to_trits(w), ref_quantize(w, 0.45, "block")[0])

    def test_equals_the_cpp_writer(self):
        ref_bin = os.environ.get("T81_TQ_REFERENCE")
        if not ref_bin:
            self.skipTest("T81_TQ_REFERENCE not set (run through ctest)")
        rows, cols = 37, 600
        w = (rng(6).standard_normal((rows, cols)) * 0.02).astype(np.float32)
        w[3, :] = 0  # an all-zero row: α = 0
        with tempfile.TemporaryDirectory() as tmp:
            w.tofile(os.path.join(tmp, "w.f32"))
            for fmt in ("tq1_0", "tq2_0"):
                for gran in ("tensor", "row", "block"):
                    with self.subTest(format=fmt, granularity=gran):
                        prefix = os.path.join(tmp, f"{fmt}_{gran}")
                        subprocess.run([ref_bin, os.path.join(tmp, "w.f32"), str(rows), str(cols), "0.45", gran, fmt, prefix],
                                       check=True, timeout=60)
                        with open(prefix + ".tq", "rb") as f:
                            ref_bytes = f.read()
                        ref_t = np.fromfile(prefix + ".trits", np.int8).reshape(rows, cols)
                        ref_s = np.fromfile(prefix + ".scales", np.float32).reshape(rows, -1)
                        t, s = t81lib.quantize_to_trits(w, 0.45, granularity=gran, return_scales=True)
                        np.testing.assert_array_equal(t, ref_t)
                        np.testing.assert_array_equal(s, ref_s)
                        p = t81lib.PackedMatrix.from_float(w, 0.45, granularity=gran, format=fmt)
                        self.assertEqual(p.to_bytes(), ref_bytes)
                        np.testing.assert_array_equal(p.trits(), ref_t)
                        np.testing.assert_array_equal(p.scales(), ref_s)

    def test_bytes_decode_as_ggml_does(self):
        w = rng(7).standard_normal((9, 777), dtype=np.float32)
        for fmt, decode, block in (("tq1_0", decode_tq1_0, 54), ("tq2_0", decode_tq2_0, 66)):
            with self.subTest(format=fmt):
                p = t81lib.PackedMatrix.from_float(w, 0.45, format=fmt)
                data = p.to_bytes()
                self.assertEqual(len(data), 9 * 4 * block)
                self.assertEqual(p.nbytes, len(data))
                t, d = decode(data, 9, 777)
                rt, rs = ref_quantize(w, 0.45, "block")
                np.testing.assert_array_equal(t, rt)
                np.testing.assert_array_equal(d, rs)
                np.testing.assert_array_equal(p.dequantize(), rt * expand(rs, 777))
                q = t81lib.PackedMatrix.from_bytes(data, (9, 777), format=fmt)
                self.assertEqual(q.to_bytes(), data)
                self.assertEqual((q.shape, q.format, q.granularity, q.threshold), ((9, 777), fmt, None, None))

    def test_packed_matrix_properties(self):
        p = t81lib.pack_dense_matrix(np.ones((3, 5), np.float32))
        self.assertEqual(p.shape, (3, 5))
        self.assertEqual(p.threshold, float(np.float32(0.45)))
        self.assertIn("PackedMatrix(shape=(3, 5), format='tq2_0', granularity='block'", repr(p))
        np.testing.assert_array_equal(p.dequantize(), np.ones((3, 5), np.float32))

    def test_non_contiguous_input_is_copied(self):
        w = rng(8).standard_normal((40, 600), dtype=np.float32)
        view = w[:, ::2]
        self.assertFalse(view.flags.c_contiguous)
        np.testing.assert_array_equal(t81lib.quantize_to_trits(view), t81lib.quantize_to_trits(view.copy()))
        self.assertEqual(t81lib.pack_dense_matrix(view).to_bytes(), t81lib.pack_dense_matrix(view.copy()).to_bytes())


# Run in a subprocess with T81_ISA set: reads the inputs from IN, writes the outputs to OUT.
ISA_CHILD = """\
import sys, numpy as np, t81lib
want, inp, outp = sys.argv[1:4]
assert t81lib.isa() == want, (t81lib.isa(), want)
z = np.load(inp)
res = {}
for fmt in ("tq1_0", "tq2_0"):
    p = t81lib.PackedMatrix.from_float(z["w"], 0.45, granularity="block", format=fmt)
    for act in ("f32", "int8"):
        res[f"{fmt}_{act}"] = t81lib.linear(z["x"], p, z["bias"], activations=act)
        one = t81lib.linear(z["x"], p, z["bias"], activations=act, threads=1)
        assert np.array_equal(one, res[f"{fmt}_{act}"]), "result depends on the thread count"
        res[f"{fmt}_{act}_vec"] = t81lib.linear(z["x"][2], p, z["bias"], activations=act)
    res[f"{fmt}_w"] = p.dequantize()
np.savez(outp, **res)
"""


class LinearTest(unittest.TestCase):
    def test_every_isa_against_numpy(self):
        g = rng(9)
        w = g.standard_normal((97, 600), dtype=np.float32)
        x = g.standard_normal((70, 600), dtype=np.float32)
        x[5] = 0  # a zero row: int8 scale 0
        bias = g.standard_normal(97, dtype=np.float32)
        outs = {}
        with tempfile.TemporaryDirectory() as tmp:
            np.savez(os.path.join(tmp, "in.npz"), w=w, x=x, bias=bias)
            for isa in ISAS:
                with self.subTest(isa=isa):
                    if isa not in t81lib.supported_isas():
                        self.skipTest(f"this CPU cannot run {isa}")
                    env = dict(os.environ, T81_ISA=isa)
                    outp = os.path.join(tmp, f"{isa}.npz")
                    r = subprocess.run([sys.executable, "-c", ISA_CHILD, isa, os.path.join(tmp, "in.npz"), outp],
                                       env=env, capture_output=True, text=True, timeout=300)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    res = dict(np.load(outp))
                    outs[isa] = res
                    for fmt in ("tq1_0", "tq2_0"):
                        wd = res[f"{fmt}_w"]
                        ref = x.astype(np.float64) @ wd.astype(np.float64).T + bias
                        for act in ("f32", "int8"):
                            y = res[f"{fmt}_{act}"]
                            self.assertEqual((y.dtype, y.shape), (np.float32, (70, 97)))
                            tol = linear_tolerance(x, wd, act == "int8") + 4 * U * np.abs(bias)
                            self.assertTrue(np.all(np.abs(y - ref) <= tol), f"{fmt} {act}: {np.max(np.abs(y - ref) - tol)}")
                            # A row alone (1-D x) is computed exactly as inside the batch.
                            np.testing.assert_array_equal(res[f"{fmt}_{act}_vec"], y[2])
        # The int8 path is the same IEEE operations on every ISA: identical bits.
        ran = list(outs)
        for isa in ran[1:]:
            for fmt in ("tq1_0", "tq2_0"):
                np.testing.assert_array_equal(outs[isa][f"{fmt}_int8"], outs[ran[0]][f"{fmt}_int8"])

    def test_batch_shapes(self):
        p = t81lib.pack_dense_matrix(rng(10).standard_normal((16, 300), dtype=np.float32))
        x = rng(11).standard_normal((2, 3, 300), dtype=np.float32)
        y = t81lib.linear(x, p)
        self.assertEqual(y.shape, (2, 3, 16))
        np.testing.assert_array_equal(y.reshape(6, 16), t81lib.linear(x.reshape(6, 300), p))
        self.assertEqual(t81lib.linear(np.zeros((0, 300), np.float32), p).shape, (0, 16))
        self.assertEqual(t81lib.linear(x[:, :, ::-1], p).shape, (2, 3, 16))  # non-contiguous: copied

    def test_releases_the_gil(self):
        # With a huge switch interval the GIL changes hands only when a thread lets it go: the
        # main thread runs before the worker's call has finished only if linear() released it.
        p = t81lib.pack_dense_matrix(rng(12).standard_normal((2048, 2048), dtype=np.float32))
        x = rng(13).standard_normal((256, 2048), dtype=np.float32)
        state = {"finished": False}

        def work():
            t81lib.linear(x, p, threads=1)
            state["finished"] = True

        old = sys.getswitchinterval()
        sys.setswitchinterval(1000.0)
        try:
            th = threading.Thread(target=work)
            th.start()  # waits (GIL released) until the worker runs; it keeps the GIL until linear()
            ran_during_call = not state["finished"]
            th.join()
        finally:
            sys.setswitchinterval(old)
        self.assertTrue(ran_during_call, "the main thread did not run while linear() computed")


class ModuleTest(unittest.TestCase):
    def test_version_is_the_cli_version(self):
        t81 = os.environ.get("T81_BIN")
        if not t81:
            self.skipTest("T81_BIN not set (run through ctest)")
        out = subprocess.run([t81, "--version"], capture_output=True, text=True, check=True, timeout=60).stdout
        self.assertEqual(out.split()[:2], ["t81", t81lib.__version__])

    def test_isa(self):
        self.assertIn(t81lib.isa(), t81lib.supported_isas())
        self.assertIn("scalar", t81lib.supported_isas())


if __name__ == "__main__":
    unittest.main()
