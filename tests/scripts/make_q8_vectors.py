#!/usr/bin/env python3
"""make_q8_vectors.py LIBDIR OUT - Q8_0 test vectors from ggml's quantize_row_q8_0_ref.

LIBDIR: the bins folder of npm node-llama-cpp@3.21.1 (libggml-base.so). OUT layout
(little-endian): "T81Q8V1\\0", u32 nblocks, f32 x[nblocks*32], u8 q8_0[nblocks*34]. Stdlib only.
Inputs include ties (x·127/amax = n + 0.5), an all-zero block and negative maxima.
"""
import ctypes, os, random, struct, sys
from array import array

def main():
    g = ctypes.CDLL(os.path.join(sys.argv[1], "libggml-base.so"))
    g.quantize_row_q8_0_ref.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    rng = random.Random(8)
    blocks = [[0.0] * 32, [(-1) ** i * (i + 0.5) for i in range(32)], [i / 254.0 * 2 - 1 for i in range(32)]]
    blocks[2][5] = -1.0
    for _ in range(29):
        s = rng.choice((1e-3, 0.02, 1.0, 300.0))
        blocks.append([rng.gauss(0, s) for _ in range(32)])
    x = array("f", [v for b in blocks for v in b])
    out = (ctypes.c_uint8 * (len(blocks) * 34))()
    g.quantize_row_q8_0_ref((ctypes.c_float * len(x)).from_buffer(x), out, len(x))
    with open(sys.argv[2], "wb") as f:
        f.write(b"T81Q8V1\0" + struct.pack("<I", len(blocks)) + x.tobytes() + bytes(out))
    print("wrote %s: %d blocks" % (sys.argv[2], len(blocks)))

if __name__ == "__main__":
    main()
