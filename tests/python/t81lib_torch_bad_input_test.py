"""Bad input to t81lib.torch: every case raises the documented exception type with a one-line
message, and the interpreter survives them all (the last test still trains and runs packed).
Fails (never skips) without torch."""

import tempfile
import unittest

import numpy as np
import torch

import t81lib
import t81lib.torch as tt
from bad_input import check_cases
from torch_models import GPT2LMHeadModel

LIN = tt.TernaryLinear(300, 16)
PK = LIN.pack()
X = torch.ones(4, 300)
NAN_LIN = tt.TernaryLinear(8, 4)
with torch.no_grad():
    NAN_LIN.weight[0, 0] = float("nan")


def plain_model():
    m = torch.nn.Module()
    m.fc = torch.nn.Linear(8, 8)
    return m


def save_no_config():
    m = plain_model()
    with tempfile.TemporaryDirectory() as d:
        tt.save_t81(m, d)


def save_to_file():
    m = GPT2LMHeadModel(V=64, C=64, L=1, max_t=8)
    with tempfile.NamedTemporaryFile() as f:
        tt.save_t81(m, f.name)


# (name, callable, exception type, a word the message must contain)
CASES = [
    ("negative threshold", lambda: tt.TernaryLinear(4, 4, threshold=-0.1), ValueError, "threshold"),
    ("zero threshold", lambda: tt.TernaryLinear(4, 4, threshold=0.0), ValueError, "threshold"),
    ("NaN threshold", lambda: tt.TernaryLinear(4, 4, threshold=float("nan")), ValueError, "threshold"),
    ("inf threshold", lambda: tt.TernaryLinear(4, 4, threshold=float("inf")), ValueError, "threshold"),
    ("threshold past float32", lambda: tt.TernaryLinear(4, 4, threshold=1e300), ValueError, "threshold"),
    ("str threshold", lambda: tt.TernaryLinear(4, 4, threshold="0.45"), TypeError, "threshold"),
    ("bool threshold", lambda: tt.TernaryLinear(4, 4, threshold=True), TypeError, "threshold"),
    ("unknown granularity", lambda: tt.TernaryLinear(4, 4, granularity="col"), ValueError, "granularity"),
    ("int granularity", lambda: tt.TernaryLinear(4, 4, granularity=1), TypeError, "granularity"),
    ("negative lambda_warmup", lambda: tt.TernaryLinear(4, 4, lambda_warmup=-1), ValueError, "lambda_warmup"),
    ("float lambda_warmup", lambda: tt.TernaryLinear(4, 4, lambda_warmup=2.5), TypeError, "lambda_warmup"),
    ("NaN weight", lambda: NAN_LIN(torch.ones(2, 8)), ValueError, "non-finite"),
    ("NaN weight (pack)", lambda: NAN_LIN.pack(), ValueError, "non-finite"),
    ("x of another width", lambda: LIN(torch.ones(4, 299)), RuntimeError, "shape"),
    ("convert: negative threshold", lambda: tt.convert(plain_model(), threshold=-1.0), ValueError, "threshold"),
    ("convert: inf threshold", lambda: tt.convert(plain_model(), threshold=float("inf")), ValueError, "threshold"),
    ("convert: unknown granularity", lambda: tt.convert(plain_model(), granularity="x"), ValueError, "granularity"),
    ("convert: not a module", lambda: tt.convert([1, 2]), TypeError, "Module"),
    ("convert: unknown activations", lambda: tt.convert(plain_model(), pack=True, activations="fp8"), ValueError,
     "activations"),
    ("convert: unknown format", lambda: tt.convert(plain_model(), pack=True, format="q4_0"), ValueError, "format"),
    ("packed: float64 x", lambda: PK(X.double()), TypeError, "float32"),
    ("packed: int x", lambda: PK(torch.ones(4, 300, dtype=torch.int32)), TypeError, "float32"),
    ("packed: numpy x", lambda: PK(X.numpy()), TypeError, "Tensor"),
    ("packed: x of another width", lambda: PK(torch.ones(4, 299)), ValueError, "features"),
    ("packed: 0-d x", lambda: PK(torch.tensor(1.0)), ValueError, "features"),
    ("packed: threads=0", lambda: tt.PackedTernaryLinear(PK.packed, threads=0)(X), ValueError, "threads"),
    ("packed: threads=1.5", lambda: tt.PackedTernaryLinear(PK.packed, threads=1.5), TypeError, "threads"),
    ("packed: bias of another length", lambda: tt.PackedTernaryLinear(PK.packed, torch.ones(15)), ValueError, "bias"),
    ("packed: array as packed", lambda: tt.PackedTernaryLinear(np.ones((4, 4), np.float32)), TypeError, "PackedMatrix"),
    ("quantize_weight: 1-D", lambda: tt.quantize_weight(torch.ones(5)), ValueError, "2-D"),
    ("quantize_weight: numpy", lambda: tt.quantize_weight(np.ones((2, 2), np.float32)), TypeError, "Tensor"),
    ("quantize_weight: negative threshold", lambda: tt.quantize_weight(torch.ones(2, 2), -1.0), ValueError,
     "threshold"),
    ("save_t81 without a config", save_no_config, ValueError, "config"),
    ("save_t81: config of another kind", lambda: tt.save_t81(plain_model(), "/tmp/x", config=3), TypeError, "config"),
    ("save_t81: unsupported model_type", lambda: tt.save_t81(plain_model(), "/tmp/x", config={"model_type": "bert"}),
     ValueError, "model_type"),
    ("save_t81: missing tensors", lambda: tt.save_t81(plain_model(), "/tmp/x", config=GPT2LMHeadModel(
        V=64, C=64, L=1, max_t=8).config), ValueError, "missing tensor"),
    ("save_t81: NaN threshold", lambda: tt.save_t81(plain_model(), "/tmp/x", config={"model_type": "gpt2"},
                                                    threshold=float("nan")), ValueError, "threshold"),
    ("save_t81 onto a file", save_to_file, ValueError, ""),
]


class TorchBadInputTest(unittest.TestCase):
    def test_each_case_raises_one_line(self):
        check_cases(self, CASES)

    def test_zz_interpreter_still_computes(self):
        y = LIN(X)
        y.sum().backward()
        self.assertIsNotNone(LIN.weight.grad)
        self.assertTrue(torch.allclose(PK(X), y.detach(), rtol=1e-4, atol=1e-4))
        self.assertEqual(t81lib.quantize_to_trits(X.numpy()).shape, (4, 300))


if __name__ == "__main__":
    unittest.main()
