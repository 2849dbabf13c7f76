#!/usr/bin/env python3
"""PyTorch CPU baseline for `t81 bench vit`: images/s of the float forward of a ViT of the given
shape (plain torch.nn with HF ViTForImageClassification's semantics: conv patch embedding, [CLS]
+ learned positions, pre-LN blocks, exact GELU, final LayerNorm, classifier on [CLS]), batch by
batch after one warm-up batch, under torch.inference_mode. Prints one JSON object on stdout.

Uses Debian's python3-torch under /usr/bin/python3. Random weights and images, fixed seed.
"""
import argparse, json, math, statistics, time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, C, NH, FF, eps):
        super().__init__()
        self.ln1 = nn.LayerNorm(C, eps=eps)
        self.q, self.k, self.v = nn.Linear(C, C), nn.Linear(C, C), nn.Linear(C, C)
        self.o = nn.Linear(C, C)
        self.ln2 = nn.LayerNorm(C, eps=eps)
        self.fc1, self.fc2 = nn.Linear(C, FF), nn.Linear(FF, C)
        self.NH = NH

    def forward(self, x):
        B, T, C = x.shape
        hd = C // self.NH
        h = self.ln1(x)
        q, k, v = (f(h).view(B, T, self.NH, hd).transpose(1, 2) for f in (self.q, self.k, self.v))
        att = ((q @ k.transpose(-2, -1)) / math.sqrt(hd)).softmax(dim=-1)
        x = x + self.o((att @ v).transpose(1, 2).reshape(B, T, C))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class ViT(nn.Module):
    def __init__(self, a):
        super().__init__()
        C, G = a.n_embd, a.image_size // a.patch
        self.patch = nn.Conv2d(a.channels, C, a.patch, stride=a.patch)
        self.cls = nn.Parameter(torch.randn(1, 1, C) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, G * G + 1, C) * 0.02)
        self.blocks = nn.ModuleList([Block(C, a.n_head, a.n_ff, 1e-12) for _ in range(a.n_layer)])
        self.ln = nn.LayerNorm(C, eps=1e-12)
        self.head = nn.Linear(C, a.labels)

    def forward(self, px):
        x = self.patch(px).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        for b in self.blocks:
            x = b(x)
        return self.head(self.ln(x)[:, 0])


def main():
    p = argparse.ArgumentParser()
    for k, d in [("image-size", 224), ("patch", 16), ("channels", 3), ("n-layer", 12), ("n-embd", 768),
                 ("n-head", 12), ("n-ff", 3072), ("labels", 10), ("batch", 32), ("batches", 4), ("threads", 1),
                 ("seed", 0)]:
        p.add_argument("--" + k, type=int, default=d)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    m = ViT(a).eval()
    px = torch.randn(a.batch, a.channels, a.image_size, a.image_size)
    times = []
    with torch.inference_mode():
        for i in range(a.batches + 1):
            t0 = time.perf_counter()
            m(px)
            if i:
                times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(json.dumps({"images_per_s": a.batch / med, "batch_s_median": med, "batch_s": times,
                      "images_per_s_min": a.batch / max(times), "images_per_s_max": a.batch / min(times),
                      "threads": torch.get_num_threads(), "torch_version": torch.__version__,
                      "params": sum(t.numel() for t in m.parameters())}))


if __name__ == "__main__":
    main()
