#!/usr/bin/python3
"""t81lib's speed against the C++ CLI and against PyTorch (docs/python.md, "Speed").

    PYTHONPATH=build/python /usr/bin/python3 python/bench/torch_speed.py --t81 build/src/t81 \
        --threads 1 --json-output torch_speed.json

(a) t81lib.linear against `t81 bench gemm` on the same shapes, weights (TQ2_0, row scales) and
    activation paths (f32, int8): the binding's overhead; target ratio <= 1.1. Each round pairs
    one CLI run with one t81lib round, and the ratios are per pair.
(b) the packed torch module (t81lib.torch.PackedTernaryLinear) against torch's float F.linear,
    4096 x 4096 at batch 1, the same thread count; target >= 10x.
(c) gemm_ternary's cost split: transposing B in, the kernel, transposing the result out.

Timing: medians over paired rounds; in each round every contender runs after a 150 ms pause (the
OpenMP / OpenBLAS workers of the previous one stop spinning), one warm-up call, then calls for
~20 ms; the round's time is their mean (as `t81 bench gemm` times). Ratios are taken within a
round and their median reported, so the host's drift over seconds cancels.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np


def time_rounds(fns, rounds):
    """times[i][r]: seconds per call of fns[i] in round r (module docstring)."""
    times = [[] for _ in fns]
    calls = [0] * len(fns)
    for r in range(rounds):
        for o in range(len(fns)):
            i = (o + r) % len(fns)
            time.sleep(0.15)
            fns[i]()
            if calls[i] == 0:
                t0 = time.perf_counter()
                fns[i]()
                calls[i] = int(min(1000, max(1, 0.02 / max(time.perf_counter() - t0, 1e-7))))
            t0 = time.perf_counter()
            for _ in range(calls[i]):
                fns[i]()
            times[i].append((time.perf_counter() - t0) / calls[i])
    return times


def paired(num, den):
    """Median (and range) of num[r] / den[r] over rounds."""
    q = [a / b for a, b in zip(num, den)]
    return {"median": statistics.median(q), "min": min(q), "max": max(q)}


def cli_gemm(t81, m, n, k, threads, rounds, seed):
    """`t81 bench gemm`'s medians {(shape, path): s} for the GEMM (m, n, k) and the GEMV (1, n, k)."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "gemm.json")
        subprocess.run([t81, "bench", "gemm", "--m", str(m), "--n", str(n), "--k", str(k), "--gemv-n", str(n),
                        "--gemv-k", str(k), "--threads", str(threads), "--repeats", str(rounds), "--seed", str(seed),
                        "--granularity", "row", "--json-output", out], check=True, capture_output=True, text=True)
        with open(out) as f:
            j = json.load(f)
    res = {}
    for shape in ("gemm", "gemv"):
        for row in j[shape]["rows"]:
            res[(shape, row["kernel"])] = row["median_s"]
    return res


def bench_linear(t81lib, t81, m, n, k, threads, rounds, seed):
    """Pairs in time: each round runs `t81 bench gemm --repeats 1`, then t81lib.linear's round on
    the same shapes; the ratio of each pair, then their median (the host drifts between processes)."""
    rng = np.random.default_rng(seed)
    packed = t81lib.pack_dense_matrix(rng.standard_normal((n, k), dtype=np.float32), granularity="row")
    cases = []
    for shape, mm in (("gemm", m), ("gemv", 1)):
        x = rng.standard_normal((mm, k), dtype=np.float32)
        out = np.empty((mm, n), np.float32)
        for act in ("f32", "int8"):
            fn = lambda x=x, out=out, act=act: t81lib.linear(x, packed, activations=act, threads=threads, out=out)
            cases.append((shape, mm, act, fn))
    py = {c[:3]: [] for c in cases}
    cli = {c[:3]: [] for c in cases}
    for r in range(rounds):
        c = cli_gemm(t81, m, n, k, threads, 1, seed)
        times = time_rounds([case[3] for case in cases], 1)
        for case, t in zip(cases, times):
            py[case[:3]].append(t[0])
            cli[case[:3]].append(c[(case[0], f"t81_{case[2]}")])
    rows = []
    for key in py:
        rows.append({"shape": [key[1], n, k], "path": key[2], "t81lib_s": statistics.median(py[key]),
                     "cli_s": statistics.median(cli[key]), "ratio": paired(py[key], cli[key])})
    return rows


def bench_torch(torch, tt, n, k, threads, rounds, seed):
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(seed)
    w, b = torch.randn(n, k, generator=g) * 0.02, torch.randn(n, generator=g) * 0.02
    x = torch.randn(1, k, generator=g)
    mods = {act: tt.PackedTernaryLinear.from_float(w, b, granularity="row", activations=act, threads=threads)
            for act in ("f32", "int8")}
    with torch.no_grad():
        fns = [lambda: torch.nn.functional.linear(x, w, b)] + [lambda m=m: m(x) for m in mods.values()]
        times = time_rounds(fns, rounds)
    rows = [{"module": "torch F.linear (float32)", "median_s": statistics.median(times[0]), "speedup": None}]
    for (act, _), t in zip(mods.items(), times[1:]):
        rows.append({"module": f"PackedTernaryLinear ({act})", "median_s": statistics.median(t),
                     "speedup": paired(times[0], t)})
    return rows


def bench_transposes(t81lib, n, threads, rounds, seed):
    rng = np.random.default_rng(seed)
    a = t81lib.pack_dense_matrix(rng.standard_normal((n, n), dtype=np.float32))
    bm = rng.standard_normal((n, n), dtype=np.float32)
    out = np.zeros((n, n), np.float32)
    parts = {"transpose_in_s": [], "kernel_s": [], "transpose_out_s": []}
    for _ in range(rounds + 1):  # the first call warms up
        t = {}
        t81lib.gemm_ternary(a, bm, out, n, n, n, threads=threads, timings=t)
        for key in parts:
            parts[key].append(t[key])
    parts = {key: v[1:] for key, v in parts.items()}
    med = {key: statistics.median(v) for key, v in parts.items()}
    total = sum(med.values())
    med["transposes_share"] = (med["transpose_in_s"] + med["transpose_out_s"]) / total
    med["shape"] = [n, n, n]
    return med


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--t81", default=os.environ.get("T81_BIN", "build/src/t81"), help="the t81 binary")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--m", type=int, default=64, help="GEMM rows of X for (a)")
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--k", type=int, default=4096)
    ap.add_argument("--transpose-n", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json-output", default="torch_speed.json")
    a = ap.parse_args()
    if a.threads < 1 or a.rounds < 1:
        sys.exit("torch_speed: --threads and --rounds must be positive")
    import t81lib
    import torch
    import t81lib.torch as tt

    lin = bench_linear(t81lib, a.t81, a.m, a.n, a.k, a.threads, a.rounds, a.seed)
    tor = bench_torch(torch, tt, a.n, a.k, a.threads, a.rounds, a.seed)
    tr = bench_transposes(t81lib, a.transpose_n, a.threads, a.rounds, a.seed)

    print(f"threads {a.threads}, kernels {t81lib.isa()}, medians of {a.rounds} paired rounds\n")
    print("(a) t81lib.linear vs t81 bench gemm (TQ2_0, row scales); target ratio <= 1.1")
    print(f"{'shape (M,N,K)':>20} {'path':>5} {'t81lib ms':>10} {'CLI ms':>10} {'ratio':>6}")
    for r in lin:
        q = r["ratio"]
        print(f"{str(tuple(r['shape'])):>20} {r['path']:>5} {r['t81lib_s'] * 1e3:10.3f} {r['cli_s'] * 1e3:10.3f} "
              f"{q['median']:6.2f} (range {q['min']:.2f}-{q['max']:.2f})")
    print(f"\n(b) {a.n} x {a.k} at batch 1, float vs packed module; target >= 10x")
    for r in tor:
        sp = r["speedup"]
        s = "" if sp is None else f"  {sp['median']:.1f}x (range {sp['min']:.1f}-{sp['max']:.1f})"
        print(f"{r['module']:>28} {r['median_s'] * 1e3:9.3f} ms{s}")
    print(f"\n(c) gemm_ternary {tr['shape']}: transpose in {tr['transpose_in_s'] * 1e3:.2f} ms, kernel "
          f"{tr['kernel_s'] * 1e3:.2f} ms, transpose out {tr['transpose_out_s'] * 1e3:.2f} ms "
          f"({100 * tr['transposes_share']:.1f}% in transposes)")
    res = {"threads": a.threads, "isa": t81lib.isa(), "rounds": a.rounds, "torch": torch.__version__,
           "t81lib": t81lib.__version__, "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "linear_vs_cli": lin, "torch_batch1": tor, "gemm_ternary_transposes": tr}
    tmp = a.json_output + ".tmp"
    with open(tmp, "w") as f:
        json.dump(res, f, indent=2)
        f.write("\n")
    os.replace(tmp, a.json_output)
    print(f"\nwrote {a.json_output}")


if __name__ == "__main__":
    main()
