"""t81lib: ternary (1.58-bit) weights for numpy, through t81's C++ engine.

One quantizer (docs/DESIGN.md): per scale group (tensor, row, or 256-block of a row)
Δ = threshold · mean|w|; trit = sign(w) if |w| > Δ else 0; α = mean |w| of the kept weights,
rounded to fp16. Packed matrices hold TQ1_0 / TQ2_0 blocks, byte for byte what GGUF stores.

    import numpy as np, t81lib
    w = np.random.randn(1024, 1024).astype(np.float32)
    packed = t81lib.pack_dense_matrix(w, threshold=0.45)      # TQ2_0, α per 256-block
    y = t81lib.linear(np.random.randn(8, 1024).astype(np.float32), packed)   # x · Wᵀ

Inputs are never cast: a float64 array raises TypeError. Non-contiguous inputs are copied once.

Language models (GPT-2, Llama, Phi-3 from an HF folder, a t81 checkpoint or a GGUF file):

    m = t81lib.load("model.gguf")
    logits = m.forward([1, 2, 3])          # (T, V) float32
    ids = m.generate([1, 2, 3], 8)         # greedy: prompt + 8 new ids
    m.close()

PyTorch (optional, imported only by `import t81lib.torch`): TernaryLinear, convert, save_t81.
"""

from ._t81lib import (
    Model,
    PackedMatrix,
    __version__,
    gemm_ternary,
    convert_checkpoint,
    isa,
    linear,
    load,
    pack_dense_matrix,
    quantize_to_trits,
    supported_isas,
)

__all__ = [
    "Model",
    "PackedMatrix",
    "__version__",
    "gemm_ternary",
    "convert_checkpoint",
    "isa",
    "linear",
    "load",
    "pack_dense_matrix",
    "quantize_to_trits",
    "supported_isas",
]
