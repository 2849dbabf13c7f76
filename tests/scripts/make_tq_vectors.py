#!/usr/bin/env python3
"""make_tq_vectors.py LIBDIR OUT - byte-level TQ1_0/TQ2_0 test vectors from ggml itself.

LIBDIR is the bins folder of npm node-llama-cpp@3.21.1
(node_modules/@node-llama-cpp/linux-x64/bins/linux-x64); its libggml-base.so exports
quantize_row_tq{1,2}_0_ref. The input blocks are ternary values t*d with the block's absmax equal
to d (so ggml's absmax quantizer reproduces the trits exactly), plus edge blocks (all zero,
single +1, single -1, all +1, all -1).

OUT layout (little-endian): "T81TQV1\0", u32 nblocks, f32 x[nblocks*256],
u8 tq1_0[nblocks*54], u8 tq2_0[nblocks*66]. Stdlib only.
"""
import ctypes, os, random, struct, sys
from array import array

def fp16_round(v):
    return struct.unpack("<e", struct.pack("<e", v))[0]

def main():
    libdir, out = sys.argv[1], sys.argv[2]
    g = ctypes.CDLL(os.path.join(libdir, "libggml-base.so"))
    for fn in ("quantize_row_tq1_0_ref", "quantize_row_tq2_0_ref"):
        getattr(g, fn).argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
        getattr(g, fn).restype = None
    rng = random.Random(81)
    blocks = []
    blocks.append([0.0] * 256)
    one = [0.0] * 256; one[17] = 1.0; blocks.append(one)
    neg = [0.0] * 256; neg[255] = -0.5; blocks.append(neg)
    blocks.append([0.25] * 256)
    blocks.append([-2.0] * 256)
    for _ in range(59):
        d = fp16_round(rng.uniform(1e-3, 4.0))
        p0 = rng.uniform(0.1, 0.8)
        t = [0 if rng.random() < p0 else rng.choice((-1, 1)) for _ in range(256)]
        t[rng.randrange(256)] = rng.choice((-1, 1))
        blocks.append([v * d for v in t])
    nb = len(blocks)
    x = array("f", [v for b in blocks for v in b])
    xb = (ctypes.c_float * len(x)).from_buffer(x)
    res = {}
    for name, bsz in (("tq1_0", 54), ("tq2_0", 66)):
        buf = (ctypes.c_uint8 * (nb * bsz))()
        getattr(g, "quantize_row_%s_ref" % name)(xb, buf, len(x))
        res[name] = bytes(buf)
    with open(out, "wb") as f:
        f.write(b"T81TQV1\0")
        f.write(struct.pack("<I", nb))
        f.write(x.tobytes())
        f.write(res["tq1_0"])
        f.write(res["tq2_0"])
    print("wrote %s: %d blocks" % (out, nb))

if __name__ == "__main__":
    main()
