# Type stub of t81lib (the extension _t81lib re-exported).
import os
from typing import Literal, overload

import numpy as np
import numpy.typing as npt

__version__: str

Granularity = Literal["tensor", "row", "block"]
Format = Literal["tq1_0", "tq2_0"]
Activations = Literal["f32", "int8", "auto"]
F32Array = npt.NDArray[np.float32]

class PackedMatrix:
    """A ternary matrix W (rows, cols) = α · trit in TQ1_0/TQ2_0 blocks of 256 weights."""

    @staticmethod
    def from_float(
        weights: F32Array,
        threshold: float = 0.45,
        *,
        granularity: Granularity = "block",
        format: Format = "tq2_0",
    ) -> PackedMatrix: ...
    @staticmethod
    def from_bytes(data: bytes | bytearray | memoryview, shape: tuple[int, int], *, format: Format = "tq2_0") -> PackedMatrix: ...
    @property
    def shape(self) -> tuple[int, int]: ...
    @property
    def format(self) -> Format: ...
    @property
    def granularity(self) -> Granularity | None: ...
    @property
    def threshold(self) -> float | None: ...
    @property
    def nbytes(self) -> int: ...
    def dequantize(self) -> F32Array: ...
    def trits(self) -> npt.NDArray[np.int8]: ...
    def scales(self) -> F32Array: ...
    def to_bytes(self) -> bytes: ...

def pack_dense_matrix(
    weights: F32Array,
    threshold: float = 0.45,
    *,
    granularity: Granularity = "block",
    format: Format = "tq2_0",
) -> PackedMatrix: ...
@overload
def quantize_to_trits(
    values: F32Array,
    threshold: float = 0.45,
    *,
    granularity: Granularity = "block",
    return_scales: Literal[False] = False,
) -> npt.NDArray[np.int8]: ...
@overload
def quantize_to_trits(
    values: F32Array,
    threshold: float = 0.45,
    *,
    granularity: Granularity = "block",
    return_scales: Literal[True],
) -> tuple[npt.NDArray[np.int8], F32Array]: ...
def linear(
    x: F32Array,
    packed: PackedMatrix,
    bias: F32Array | None = None,
    *,
    activations: Activations = "f32",
    threads: int | None = None,
    out: F32Array | None = None,
) -> F32Array: ...
def gemm_ternary(
    a: PackedMatrix,
    b: PackedMatrix | F32Array,
    out: F32Array,
    m: int,
    n: int,
    k: int,
    alpha: float = 1.0,
    beta: float = 0.0,
    *,
    threads: int | None = None,
    timings: dict[str, float] | None = None,
) -> None: ...
def isa() -> Literal["scalar", "avx2", "avx512", "amx"]: ...
def supported_isas() -> list[str]: ...

IdsLike = npt.NDArray[np.integer] | list[int] | tuple[int, ...]

class Model:
    """A GPT-2 / Llama / Phi-3 language model run by t81's engine (load)."""

    def forward(self, ids: IdsLike) -> F32Array: ...
    def perplexity(self, ids: IdsLike | str, *, ctx: int = 0, stride: int = 0) -> tuple[float, float, int]: ...
    def generate(
        self,
        ids: IdsLike | str,
        max_new_tokens: int,
        *,
        temperature: float = 0.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int = 0,
        eos_id: int | None = None,
    ) -> npt.NDArray[np.int64]: ...
    @property
    def config(self) -> dict[str, int | str]: ...
    @property
    def path(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def close(self) -> None: ...
    def __enter__(self) -> Model: ...
    def __exit__(self, *args: object) -> None: ...

def load(path: str | os.PathLike[str]) -> Model: ...
def convert_checkpoint(
    hf_dir: str,
    out_dir: str,
    threshold: float = 0.45,
    *,
    granularity: Granularity = "row",
    format: Format = "tq2_0",
    float_type: Literal["f32", "f16", "q8_0"] = "f32",
) -> dict[str, int]: ...
