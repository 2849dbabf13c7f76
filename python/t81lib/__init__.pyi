# Type stub of t81lib (the extension _t81lib re-exported).
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
def isa() -> Literal["scalar", "avx2", "avx512"]: ...
def supported_isas() -> list[str]: ...
