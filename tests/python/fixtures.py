"""The golden fixtures of tests/data/fixtures (README there): their folders and a safetensors
reader in numpy (no torch)."""

import json
import os

import numpy as np

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "fixtures"))


def fixture(name):
    return os.path.join(FIXTURES, name)


def read_safetensors(path):
    """{name: numpy array} of a safetensors file (F32, F16, BF16, I64 tensors)."""
    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "BF16": np.uint16}
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        b, e = h["data_offsets"]
        a = np.frombuffer(data[b:e], dtype=dtypes[h["dtype"]]).reshape(h["shape"])
        if h["dtype"] == "BF16":
            a = (a.astype(np.uint32) << 16).view(np.float32)
        out[name] = a.copy()
    return out
