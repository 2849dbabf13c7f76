"""t81lib.torch under torch.distributed: QAT of a small GPT-2-style model made of TernaryLinear
in DistributedDataParallel (gloo, 2 processes on 127.0.0.1) against one process over the
combined batch.

What must hold: after N steps both ranks hold bit-identical parameters (DDP averages the
gradients; the quantizer is deterministic), and the loss curve (the mean of the two shard
losses = the loss over the combined batch) matches the single process's within 1e-4 relative
per step. Why that tolerance: the two runs differ only in float32 summation order (the batch
split in two, gradients averaged by all-reduce): ~1e-7 relative per gradient. The optimizer is
SGD with momentum, whose update is linear in the gradient, so the weights differ by ~1e-7 of an
update after N = 6 steps and a trit flips only for a weight that close to its threshold: the
losses stay within ~1e-6 relative; 1e-4 leaves room for a few flipped trits among the ~4·10^5
weights. (AdamW is not used here: its first steps move every weight by ≈ lr·sign(g), so a
gradient near 0 whose sign the summation order flips moves a weight by 2·lr, flips trits and
makes the curves drift apart by ~5e-4 within 6 steps — a property of Adam, not of DDP.)
"""

import os
import socket
import sys
import tempfile
import unittest

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

import t81lib.torch as tt
from torch_models import GPT2LMHeadModel

STEPS, B, T, V = 6, 8, 16, 256


def make_model():
    m = GPT2LMHeadModel(V=V, C=128, L=2, H=4, max_t=T, seed=11)
    return tt.convert(m, granularity="block", lambda_warmup=3)


def batch():
    return torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(12))


def loss_of(model, ids):
    logits = model(ids)
    return F.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))


def flat_params(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def worker(rank, world, port, out_dir):
    """One DDP rank: trains on its half of the batch; rank r writes its losses and parameters."""
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), OMP_NUM_THREADS="1")
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        model = torch.nn.parallel.DistributedDataParallel(make_model())
        opt = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
        ids = batch()[rank * (B // world) : (rank + 1) * (B // world)]
        losses = []
        for _ in range(STEPS):
            loss = loss_of(model, ids)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total = loss.detach().clone()
            dist.all_reduce(total)
            losses.append(float(total) / world)
        np.savez(os.path.join(out_dir, f"rank{rank}.npz"), losses=np.array(losses),
                 params=flat_params(model.module).numpy(), steps=int(model.module.transformer.h[0].attn.c_attn.qat_step))
    finally:
        dist.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DistributedQat(unittest.TestCase):
    def test_ddp_matches_one_process(self):
        torch.set_num_threads(1)
        model = make_model()
        self.assertTrue(any(isinstance(m, tt.TernaryLinear) for m in model.modules()))
        opt = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
        ids, single = batch(), []
        for _ in range(STEPS):
            loss = loss_of(model, ids)
            opt.zero_grad()
            loss.backward()
            opt.step()
            single.append(float(loss))
        with tempfile.TemporaryDirectory() as d:
            mp.spawn(worker, args=(2, free_port(), d), nprocs=2, join=True)
            r0, r1 = (dict(np.load(os.path.join(d, f"rank{r}.npz"))) for r in (0, 1))
        np.testing.assert_array_equal(r0["params"], r1["params"])
        self.assertEqual(int(r0["steps"]), STEPS)
        single = np.array(single)
        rel = np.abs(r0["losses"] - single) / single
        print(f"\n[ddp] losses one process {np.round(single, 5).tolist()}\n[ddp] losses DDP x2      "
              f"{np.round(r0['losses'], 5).tolist()}; max relative difference {rel.max():.2e}", file=sys.stderr)
        self.assertTrue(np.all(rel <= 1e-4), rel)
        # Training happened (the comparison can fail): the loss fell and the weights moved.
        self.assertLess(single[-1], single[0] - 1e-3)
        self.assertFalse(np.array_equal(r0["params"], flat_params(make_model()).numpy()))
        # The two runs end on the same weights, up to the summation-order differences above.
        self.assertLessEqual(np.abs(r0["params"] - flat_params(model).numpy()).max(), 1e-4)


if __name__ == "__main__":
    unittest.main()
