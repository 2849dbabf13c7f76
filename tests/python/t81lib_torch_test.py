"""t81lib.torch: TernaryLinear's fake quantization against t81lib.quantize_to_trits (bit for bit,
every granularity) and the numpy restatement of the quantizer, the straight-through gradient,
the λ warm-up, convert() (nn.Linear and a GPT-2 Conv1D stand-in), the packed module against the
dequantized float reference, save_t81 for GPT-2 / Llama / Phi-3 against t81lib.load, and one
run end to end: QAT -> save_t81 -> t81 gguf --validate -> t81 and llama.cpp (when the peer is
built: T81_PEER_BIN) on the GGUF against the torch module.

Fails (never skips) without torch: scripts/setup.sh installs python3-torch.

Tolerances: the packed module against float64 x·Wᵀ of its dequantized weights: t81lib_test's
derived bound (float32 sums: 4·K·u·Σ|x·w|; int8 activations add Σ|w|·amax/254). The t81 model
of a checkpoint against the torch module with packed int8 linears: the same trits, scales and
kernels, so only the float parts differ (norms, attention, GELU/SiLU: float32 in another order,
~1e-6 relative per op), plus an int8 activation that such a difference moves across a rounding
boundary (one step, amax/127·|w|): held to 2e-3 of the logits' range. llama.cpp against t81 on
the same GGUF: 0.03 (tests/peer/peer_test.cc's bound: llama.cpp quantizes activations to 8 bits
per 256-block where t81 does per row).
"""

import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch
import torch.nn.functional as F

import t81lib
import t81lib.torch as tt
from t81lib_test import expand, linear_tolerance, ref_quantize
from torch_models import Conv1D, GPT2LMHeadModel, LlamaForCausalLM

U = 2.0**-24
T81_BIN = os.environ.get("T81_BIN", "")
PEER_BIN = os.environ.get("T81_PEER_BIN", "")
PEER_BINS = os.environ.get("T81_PEER_BINS", "")
GRANS = ("tensor", "row", "block")


def max_rel(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def run(args, **kw):
    r = subprocess.run(args, capture_output=True, text=True, timeout=300, **kw)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({r.returncode}): {r.stderr.strip()[-2000:]}")
    return r.stdout


class ImportWithoutTorch(unittest.TestCase):
    def test_t81lib_imports_and_t81lib_torch_says_why_not(self):
        code = ("import sys; sys.modules['torch'] = None\nimport t81lib\nprint(t81lib.isa())\n"
                "try:\n    import t81lib.torch\nexcept ImportError as e:\n    print('ImportError:', e)\n")
        out = run([sys.executable, "-c", code], env=os.environ)
        self.assertIn("ImportError: t81lib.torch needs PyTorch", out)


class TernaryLinearQuantizer(unittest.TestCase):
    def test_trits_and_scales_bit_for_bit(self):
        g = torch.Generator().manual_seed(0)
        for shape in ((48, 300), (7, 256), (3, 1000), (1, 5)):
            for gran in GRANS:
                for thr in (0.45, 0.7):
                    with self.subTest(shape=shape, gran=gran, thr=thr):
                        layer = tt.TernaryLinear(shape[1], shape[0], threshold=thr, granularity=gran)
                        with torch.no_grad():
                            layer.weight.copy_(torch.randn(shape, generator=g) * 0.1)
                        q = layer.quantized_weight()
                        self.assertEqual((q.dtype, tuple(q.shape)), (torch.float32, shape))
                        w = layer.weight.detach().numpy()
                        t, s = t81lib.quantize_to_trits(w, thr, granularity=gran, return_scales=True)
                        np.testing.assert_array_equal(q.numpy(), t.astype(np.float32) * expand(s, shape[1]))
                        # Trits and scales read back from q(w); and the numpy restatement agrees.
                        np.testing.assert_array_equal(np.sign(q.numpy()).astype(np.int8), t)
                        rt, rs = ref_quantize(w, thr, gran)
                        np.testing.assert_array_equal(t, rt)
                        np.testing.assert_array_equal(s, rs)
                        # The packed form holds exactly these weights.
                        np.testing.assert_array_equal(layer.pack().dequantized_weight().numpy(), q.numpy())
                        self.assertTrue((q.numpy() == 0).any() and (q.numpy() != 0).any())

    def test_forward_and_straight_through_gradient(self):
        torch.manual_seed(1)
        layer = tt.TernaryLinear(300, 40, granularity="row")
        x = torch.randn(2, 5, 300, requires_grad=True)
        gy = torch.randn(2, 5, 40)
        y = layer(x)
        q = layer.quantized_weight()
        self.assertTrue(torch.equal(y, F.linear(x, q, layer.bias)))
        (y * gy).sum().backward()
        # d/dW = gyᵀ·x (as if W were q: the identity through the quantizer); d/dx = gy·q.
        qp = q.clone().requires_grad_(True)
        xr = x.detach().clone().requires_grad_(True)
        (F.linear(xr, qp, layer.bias.detach()) * gy).sum().backward()
        self.assertTrue(torch.equal(layer.weight.grad, qp.grad))
        self.assertTrue(torch.equal(x.grad, xr.grad))
        self.assertTrue(torch.equal(layer.bias.grad, gy.sum((0, 1))))
        self.assertFalse(torch.equal(layer.weight.grad, torch.zeros_like(layer.weight)))

    def test_lambda_warmup(self):
        torch.manual_seed(2)
        layer = tt.TernaryLinear(256, 16, lambda_warmup=4)
        x = torch.randn(3, 256)
        w, q = layer.weight.detach(), layer.quantized_weight()
        seen = []
        for s in range(6):
            lam = tt.qat_lambda(s, 4)
            seen.append(lam)
            self.assertEqual(layer.current_lambda(), lam)
            y = layer(x)
            want = F.linear(x, q if lam == 1 else w + lam * (q - w), layer.bias)
            self.assertTrue(torch.equal(y, want), f"step {s}")
        self.assertEqual(seen, [0.25, 0.5, 0.75, 1.0, 1.0, 1.0])
        # numpy scalars are thresholds too; the result is the float's.
        self.assertTrue(torch.equal(tt.quantize_weight(w, np.float32(0.5)), tt.quantize_weight(w, 0.5)))
        self.assertFalse(torch.equal(F.linear(x, w + 0.25 * (q - w)), F.linear(x, q)))
        # eval: the λ of the last training step; the step counter does not move.
        layer.eval()
        tt.set_qat_step(layer, 1)
        self.assertEqual(layer.current_lambda(), 0.25)
        layer(x)
        self.assertEqual(int(layer.qat_step), 1)


class Convert(unittest.TestCase):
    def model(self):
        torch.manual_seed(3)
        m = torch.nn.Module()
        m.fc = torch.nn.Linear(300, 64)
        m.block = torch.nn.Module()
        m.block.c_attn = Conv1D(96, 64)  # weight (64, 96): (in, out)
        m.lm_head = torch.nn.Linear(96, 10, bias=False)
        m.forward = lambda x: m.lm_head(m.block.c_attn(torch.relu(m.fc(x))))
        return m

    def test_swaps_linear_and_conv1d(self):
        m = self.model()
        conv_w = m.block.c_attn.weight.detach().clone()
        x = torch.randn(4, 300)
        h = torch.relu(m.fc(x)).detach()
        out = tt.convert(m, threshold=0.5, granularity="row")
        self.assertIs(out, m)
        self.assertIsInstance(m.fc, tt.TernaryLinear)
        self.assertIsInstance(m.block.c_attn, tt.TernaryLinear)
        self.assertIs(type(m.lm_head), torch.nn.Linear)  # skipped
        c = m.block.c_attn
        self.assertEqual((c.in_features, c.out_features, c.from_conv1d), (64, 96, True))
        self.assertTrue(torch.equal(c.weight.detach(), conv_w.t()))
        # Conv1D semantics kept: x·W with W (in, out) == x·(Wᵀ)ᵀ, quantized along `in`.
        q = tt.quantize_weight(conv_w.t(), 0.5, "row")
        self.assertTrue(torch.equal(c(h), F.linear(h, q, c.bias)))
        self.assertEqual(m.fc.threshold, 0.5)
        # skip by name part; a bare linear comes back converted.
        m2 = self.model()
        tt.convert(m2, skip=("block", "lm_head"))
        self.assertIsInstance(m2.fc, tt.TernaryLinear)
        self.assertIsInstance(m2.block.c_attn, Conv1D)
        self.assertIsInstance(tt.convert(torch.nn.Linear(4, 4)), tt.TernaryLinear)

    def test_pack_against_dequantized_reference(self):
        m = tt.convert(self.model(), pack=True, granularity="block", threads=1)
        self.assertIsInstance(m.fc, tt.PackedTernaryLinear)
        self.assertIsInstance(m.block.c_attn, tt.PackedTernaryLinear)
        torch.manual_seed(4)
        for act in ("f32", "int8"):
            layer = m.fc
            layer.activations = act
            for shape in ((300,), (5, 300), (2, 3, 300), (0, 300)):
                x = torch.randn(shape)
                y = layer(x)
                self.assertEqual((y.dtype, tuple(y.shape)), (torch.float32, shape[:-1] + (64,)))
                if x.numel() == 0:
                    continue
                wd = layer.dequantized_weight().numpy()
                b = layer.bias.numpy()
                ref = x.numpy().astype(np.float64) @ wd.astype(np.float64).T + b
                tol = linear_tolerance(x.numpy(), wd, act == "int8") + 4 * U * np.abs(b)
                self.assertTrue(np.all(np.abs(y.numpy() - ref) <= tol), f"{act} {shape}")
                # The comparison can fail: float weights are not within it.
                wf = self.model().fc.weight.detach().numpy().astype(np.float64)
                self.assertFalse(np.all(np.abs(x.numpy() @ wf.T + b - ref) <= tol))
        # A non-contiguous input is made contiguous: the same result; threads do not change it.
        x = torch.randn(300, 6).t()
        layer = m.fc
        self.assertTrue(torch.equal(layer(x), layer(x.contiguous())))
        layer.threads = 2
        self.assertTrue(torch.equal(layer(x), layer(x.contiguous())))
        # TernaryLinear.pack: the same module convert(pack=True) makes.
        t = tt.convert(self.model(), granularity="block")
        p = t.fc.pack(threads=1, activations="int8")
        self.assertTrue(torch.equal(p(x.contiguous()), m.fc(x.contiguous())))


def train_qat(model, steps, seed=5, lr=3e-3, B=4, T=16):
    """QAT steps of next-token loss on a fixed random batch; returns the losses."""
    g = torch.Generator().manual_seed(seed)
    V = model.config["vocab_size"]
    ids = torch.randint(0, V, (B, T), generator=g)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    losses = []
    for _ in range(steps):
        logits = model(ids)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    return losses


def packed_logits(model, ids):
    """The torch module with every ternary linear packed (int8 activations, as t81 runs them)."""
    tt.convert(model, pack=True, activations="int8", threads=1)
    with torch.no_grad():
        return model(torch.from_numpy(ids)[None]).numpy()[0]


class SaveT81(unittest.TestCase):
    def check(self, model, gran, ids):
        tt.convert(model, granularity=gran, lambda_warmup=2)
        train_qat(model, 3)
        model.eval()
        with torch.no_grad():
            fake = model(torch.from_numpy(ids)[None]).numpy()[0]
        with tempfile.TemporaryDirectory() as d:
            rep = tt.save_t81(model, d)
            self.assertGreater(rep["ternary_tensors"], 0)
            with t81lib.load(d) as m:
                self.assertEqual(m.config["linear_mode"], "packed")
                got = m.forward(ids)
        want = packed_logits(model, ids)
        rng_ = float(np.abs(want).max())
        print(f"\n[save_t81] {model.config['model_type']}: |t81 - torch packed| max {np.abs(got - want).max():.2e}, "
              f"|fake quant - packed| max {np.abs(fake - want).max():.2e}, logit range {rng_:.3f}", file=sys.stderr)
        self.assertLessEqual(np.abs(got - want).max(), 2e-3 * rng_)
        # Fake quantization (float activations) is close too; plain float weights are not.
        self.assertLessEqual(np.abs(fake - want).max(), 0.05 * rng_)
        return got

    def test_each_architecture(self):
        ids = np.array([(i * 37 + 11) % 256 for i in range(12)], np.int64)
        for name, make in (("gpt2", lambda: GPT2LMHeadModel(C=256, L=2)),
                           ("llama", lambda: LlamaForCausalLM(C=256, L=2, H=4, KV=2, FF=512)),
                           ("phi3", lambda: LlamaForCausalLM(C=256, L=2, H=4, KV=4, FF=512, phi3=True))):
            for gran in (("block", "row", "tensor") if name == "gpt2" else ("row",)):
                with self.subTest(name=name, gran=gran):
                    float_model = make()
                    with torch.no_grad():
                        ref = float_model(torch.from_numpy(ids)[None]).numpy()[0]
                    got = self.check(make(), gran, ids)
                    self.assertGreater(np.abs(got - ref).max(), 0.05 * np.abs(ref).max())

    def test_refuses_mixed_settings(self):
        m = GPT2LMHeadModel(C=256, L=1)
        tt.convert(m)
        m.transformer.h[0].mlp.c_fc.threshold = 0.6
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaisesRegex(ValueError, "different settings"):
                tt.save_t81(m, d)
            m.transformer.h[0].mlp.c_fc.threshold = 0.45
            with self.assertRaisesRegex(ValueError, "differ"):
                tt.save_t81(m, d, threshold=0.5)
            with self.assertRaisesRegex(ValueError, "model_type"):
                tt.save_t81(m, d, config={"model_type": "bert"})


class EndToEnd(unittest.TestCase):
    def test_qat_save_gguf_llamacpp(self):
        self.assertTrue(T81_BIN, "T81_BIN must name the t81 binary (ctest sets it)")
        model = GPT2LMHeadModel(V=256, C=256, L=2, H=4, max_t=32, seed=7)
        tt.convert(model, granularity="block", lambda_warmup=4)
        losses = train_qat(model, 8)
        self.assertLess(losses[-1], losses[0])
        ids = np.array([(i * 53 + 3) % 256 for i in range(16)], np.int64)
        with tempfile.TemporaryDirectory() as d:
            ck, gguf = os.path.join(d, "ck"), os.path.join(d, "m.gguf")
            tt.save_t81(model, ck)
            run([T81_BIN, "gguf", gguf, "--from-t81", ck, "--quant", "TQ2_0", "--validate"])
            with t81lib.load(gguf) as m:
                t81_logits = m.forward(ids)
            want = packed_logits(model, ids)
            rng_ = float(np.abs(want).max())
            err = float(np.abs(t81_logits - want).max())
            print(f"\n[e2e] |t81(GGUF) - torch packed| max {err:.2e} (logit range {rng_:.3f})", file=sys.stderr)
            self.assertLessEqual(err, 2e-3 * rng_)
            if not PEER_BIN:
                print("[e2e] llama.cpp peer not built (scripts/peer/install.sh): GGUF not run in llama.cpp",
                      file=sys.stderr)
                return
            out = os.path.join(d, "peer.bin")
            run([PEER_BIN, PEER_BINS, gguf, "--ids", ",".join(map(str, ids)), "--out", out, "--threads", "1"])
            peer = np.fromfile(out, np.float32).reshape(len(ids), -1)
            self.assertEqual(peer.shape, t81_logits.shape)
            d_peer = float(np.abs(peer - t81_logits).max())
            print(f"[e2e] |llama.cpp - t81| max {d_peer:.2e}; |llama.cpp - torch packed| max "
                  f"{np.abs(peer - want).max():.2e}", file=sys.stderr)
            self.assertLessEqual(d_peer, 0.03)
            self.assertLessEqual(float(np.abs(peer - want).max()), 0.03 + 2e-3 * rng_)


if __name__ == "__main__":
    unittest.main()
