"""t81lib.load against PyTorch's golden files (tests/data/fixtures: GPT-2, Llama, Phi-3 from
transformers): forward logits, greedy ids, perplexity; the same model as a t81 checkpoint and
a GGUF file (t81 convert / t81 gguf through T81_BIN) against its own ternary reference; close().
Also linear's out= keyword.

Tolerances: float logits within 1e-4 of PyTorch's (the C++ decoder test's bound: float32 sums
in a different order over C = 64 products, ~1e-6 relative, on logits of magnitude ~1); the
perplexity's mean NLL within 1e-4 relative of the NLL computed here from the golden logits.
"""

import os
import shutil
import subprocess
import tempfile
import threading
import unittest

import numpy as np

import t81lib
from fixtures import fixture, read_safetensors

T81_BIN = os.environ.get("T81_BIN", "")
MODELS = ("gpt2-tiny", "llama-tiny", "phi3-tiny")


# The C++ tests' 10-token SentencePiece-style BPE (tests/cli/tiny_tokenizer.h): "ab a b" ->
# ▁ab ▁a ▁ b = 8 6 3 5, after <s> = 1 when special tokens are added.
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli", "tiny_tokenizer.h")) as _f:
    _h = _f.read()
TINY_TOKENIZER = _h[_h.index('R"(') + 3 : _h.index(')";')]


def nll_of(logits, ids):
    """Mean -log p(ids[t] | ids[<t]) over t >= 1 from logits (T, V), in float64."""
    z = logits[:-1].astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(ids) - 1), ids[1:]].mean()


def run_t81(*args):
    r = subprocess.run([T81_BIN, *args], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise AssertionError(f"t81 {' '.join(args)} failed: {r.stderr.strip()}")


class LoadGolden(unittest.TestCase):
    def test_forward_greedy_perplexity(self):
        for name in MODELS:
            with self.subTest(name):
                g = read_safetensors(os.path.join(fixture(name), "golden.safetensors"))
                ids, ref = g["input.input_ids"], g["logits"]
                m = t81lib.load(fixture(name))
                self.assertEqual(m.config["arch"], name.split("-")[0])
                self.assertEqual(m.config["vocab_size"], ref.shape[-1])
                got = m.forward(ids)
                self.assertEqual(got.dtype, np.float32)
                self.assertEqual(got.shape, ref.shape)
                self.assertLessEqual(np.abs(got - ref).max(), 1e-4)
                # One row as (T,) and as a list: the same rows (up to BLAS's order of sums for B = 1).
                one = m.forward(ids[0])
                self.assertLessEqual(np.abs(one - got[0]).max(), 1e-5)
                np.testing.assert_array_equal(m.forward([int(i) for i in ids[0]]), one)
                # The comparison can fail: another row's logits are far from these.
                self.assertGreater(np.abs(m.forward(ids[0][::-1].copy()) - ref[0]).max(), 1e-2)
                prompt, want_ids = g["greedy_prompt"].reshape(-1), g["greedy_ids"].reshape(-1)
                out = m.generate(prompt, len(want_ids) - len(prompt))
                self.assertEqual(out.dtype, np.int64)
                np.testing.assert_array_equal(out, want_ids)
                ppl, nll, n = m.perplexity(ids[0])
                want = nll_of(ref[0], ids[0])
                self.assertEqual(n, ids.shape[1] - 1)
                self.assertAlmostEqual(nll, want, delta=1e-4 * want)
                self.assertAlmostEqual(ppl, np.exp(nll), delta=1e-9 * ppl)
                m.close()
                self.assertTrue(m.closed)

    def test_text_through_the_model_tokenizer(self):
        with tempfile.TemporaryDirectory() as d:
            for f in ("config.json", "model.safetensors"):
                shutil.copy(os.path.join(fixture("llama-tiny"), f), d)
            with open(os.path.join(d, "tokenizer.json"), "w") as f:
                f.write(TINY_TOKENIZER)
            with t81lib.load(d) as m:
                ids = [1, 8, 6, 3, 5]
                self.assertEqual(m.perplexity("ab a b"), m.perplexity(ids))
                np.testing.assert_array_equal(m.generate("ab a b", 3), m.generate(ids, 3))
                self.assertNotEqual(m.perplexity("ab ab")[0], m.perplexity(ids)[0])

    def test_threads_share_a_model(self):
        # Four threads on one model: every result as computed alone, and no deadlock (the model's
        # lock is never awaited while holding the GIL).
        with t81lib.load(fixture("llama-tiny")) as m:
            ids = np.arange(3, 19, dtype=np.int64)
            want_f, want_g = m.forward(ids), m.generate(ids[:4], 6)
            errors = []

            def work():
                try:
                    for _ in range(10):
                        np.testing.assert_array_equal(m.forward(ids), want_f)
                        np.testing.assert_array_equal(m.generate(ids[:4], 6), want_g)
                        m.config  # a GIL-holding call between the others
                except Exception as e:  # reported below
                    errors.append(e)

            ts = [threading.Thread(target=work) for _ in range(4)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(timeout=120)
            self.assertFalse(any(t.is_alive() for t in ts), "threads did not finish: deadlock")
            self.assertEqual(errors, [])

    def test_closed_model_raises(self):
        m = t81lib.load(fixture("gpt2-tiny"))
        m.close()
        m.close()  # idempotent
        for call in (lambda: m.forward([1, 2]), lambda: m.generate([1], 2), lambda: m.perplexity([1, 2, 3]),
                     lambda: m.config):
            with self.assertRaisesRegex(ValueError, "closed"):
                call()
        with t81lib.load(fixture("gpt2-tiny")) as m2:
            self.assertFalse(m2.closed)
        self.assertTrue(m2.closed)

    def test_t81_checkpoint_and_gguf(self):
        self.assertTrue(T81_BIN, "T81_BIN must name the t81 binary (ctest sets it)")
        # gpt2-blocks256: every row a multiple of 256, so its block linears export to TQ2_0.
        src = fixture("gpt2-blocks256")
        ids = np.array([(i * 37 + 11) % 256 for i in range(12)], np.int64)
        float_logits = t81lib.load(src).forward(ids)
        with tempfile.TemporaryDirectory() as d:
            ck, gguf = os.path.join(d, "ck"), os.path.join(d, "m.gguf")
            rep = t81lib.convert_checkpoint(src, ck, 0.45, granularity="block")
            self.assertGreater(rep["ternary_tensors"], 0)
            run_t81("gguf", gguf, "--from-t81", ck, "--quant", "TQ2_0", "--validate")
            a, b = t81lib.load(ck), t81lib.load(gguf)
            self.assertEqual(a.config["linear_mode"], "packed")
            la, lb = a.forward(ids), b.forward(ids)
            # The same trits and scales and the same packed kernels: identical logits.
            np.testing.assert_array_equal(la, lb)
            np.testing.assert_array_equal(a.generate(ids[:4], 4), b.generate(ids[:4], 4))
            # Ternary is not float: the comparison can fail.
            self.assertGreater(np.abs(la - float_logits).max(), 1e-3)
            a.close()
            b.close()


class LinearOut(unittest.TestCase):
    def test_out_written_in_place(self):
        r = np.random.default_rng(1)
        packed = t81lib.pack_dense_matrix(r.standard_normal((48, 300)).astype(np.float32))
        x = r.standard_normal((2, 3, 300)).astype(np.float32)
        bias = r.standard_normal(48).astype(np.float32)
        want = t81lib.linear(x, packed, bias)
        out = np.full((2, 3, 48), np.nan, np.float32)
        got = t81lib.linear(x, packed, bias, out=out)
        self.assertIs(got, out)
        np.testing.assert_array_equal(out, want)
        bad = [(np.zeros((2, 3, 48), np.float64), TypeError), ([0.0] * 48, TypeError),
               (np.zeros((2, 3, 47), np.float32), ValueError), (np.zeros((6, 48), np.float32), ValueError),
               (np.zeros((2, 48, 3), np.float32).transpose(0, 2, 1), ValueError)]
        ro = np.zeros((2, 3, 48), np.float32)
        ro.setflags(write=False)
        bad.append((ro, ValueError))
        for o, err in bad:
            with self.assertRaises(err) as cm:
                t81lib.linear(x, packed, bias, out=o)
            self.assertNotIn("\n", str(cm.exception))
        xx = np.zeros((4, 48), np.float32)
        with self.assertRaisesRegex(ValueError, "overlap"):
            t81lib.linear(xx, t81lib.pack_dense_matrix(r.standard_normal((48, 48)).astype(np.float32)), out=xx)


if __name__ == "__main__":
    unittest.main()
