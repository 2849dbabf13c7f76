"""t81lib.torch: t81's ternary quantizer in PyTorch (docs/python.md).

- TernaryLinear: an nn.Linear trained with quantization-aware fake quantization: forward uses
  w + λ·(q(w) − w) where q is t81's quantizer (t81lib.quantize_to_trits, bit for bit), backward is
  straight-through (the gradient reaches w unchanged); λ rises linearly over `lambda_warmup`
  training steps as in t81 train-lm (min(1, (s + 1) / lambda_warmup)).
- PackedTernaryLinear: inference through t81's packed C++ kernels on CPU float32 tensors.
- convert(model): swaps nn.Linear (and transformers' GPT-2 Conv1D) modules in place.
- save_t81(model, dir): a t81 checkpoint (what `t81 convert` writes), exported by
  `t81 gguf OUT --from-t81 DIR`.
"""

import json
import math
import numbers
import os
import shutil
import tempfile

try:
    import torch
    from torch import nn
except ImportError as e:  # t81lib itself works without torch; this module does not
    raise ImportError(f"t81lib.torch needs PyTorch (Debian: apt install python3-torch): {e}") from None

import numpy as np

from . import PackedMatrix, _t81lib, linear, quantize_to_trits

GRANULARITIES = ("tensor", "row", "block")
BLOCK = 256

__all__ = [
    "PackedTernaryLinear",
    "TernaryLinear",
    "convert",
    "qat_lambda",
    "quantize_weight",
    "save_t81",
    "set_qat_step",
]


def _check_threshold(threshold):
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise TypeError(f"threshold must be a float (got {type(threshold).__name__})")
    t = float(threshold)
    # Positive and finite as the float32 the C++ quantizer receives.
    if not (math.isfinite(t) and t > 0 and t <= float(np.finfo(np.float32).max) and np.float32(t) > 0):
        raise ValueError(f"threshold must be positive and finite (got {t:g})")
    return t


def _check_granularity(granularity):
    if not isinstance(granularity, str):
        raise TypeError(f"granularity must be a str (got {type(granularity).__name__})")
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {', '.join(GRANULARITIES)} (got '{granularity}')")
    return granularity


def _check_warmup(n):
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"lambda_warmup must be an int (got {type(n).__name__})")
    if n < 0:
        raise ValueError(f"lambda_warmup must not be negative (got {n})")
    return n


def qat_lambda(step, lambda_warmup):
    """QAT's λ at 0-based step s: min(1, (s + 1) / lambda_warmup) as a float32 value; 1 without warm-up."""
    if lambda_warmup <= 0:
        return 1.0
    return float(np.float32(min(1.0, (step + 1) / lambda_warmup)))


def quantize_weight(weight, threshold=0.45, granularity="block"):
    """q(w) = α · trit of a 2-D (out, in) weight by t81's quantizer, as a float32 tensor on w's
    device (the quantizer runs on the CPU copy; trits and fp16-rounded α of t81lib.quantize_to_trits)."""
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"weight must be a torch.Tensor (got {type(weight).__name__})")
    if weight.dim() != 2:
        raise ValueError(f"weight must be 2-D (out, in) (got shape {tuple(weight.shape)})")
    w = weight.detach().to("cpu", torch.float32).contiguous().numpy()
    trits, scales = quantize_to_trits(w, threshold, granularity=granularity, return_scales=True)
    alpha = np.repeat(scales, BLOCK, axis=1)[:, : w.shape[1]]
    q = torch.from_numpy(trits.astype(np.float32) * alpha)
    return q.to(weight.device)


class TernaryLinear(nn.Linear):
    """nn.Linear with t81's ternary fake quantization (QAT). Weight (out, in) stays float (the latent
    weight the optimizer updates); forward sees w + λ·(q(w) − w), gradient flows straight through.
    Each training-mode forward is one step of the λ warm-up (set_qat_step sets it explicitly)."""

    def __init__(self, in_features, out_features, bias=True, *, threshold=0.45, granularity="block",
                 lambda_warmup=0, device=None, dtype=None):
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        self.threshold = _check_threshold(threshold)
        self.granularity = _check_granularity(granularity)
        self.lambda_warmup = _check_warmup(lambda_warmup)
        self.from_conv1d = False  # made from a GPT-2 Conv1D: its checkpoint tensor is weightᵀ
        # The λ warm-up's step: in the state dict, so a resumed run continues the schedule.
        self.register_buffer("qat_step", torch.zeros((), dtype=torch.int64))

    def current_lambda(self):
        """λ of the next training forward (training) or of the last one (eval)."""
        s = int(self.qat_step)
        return qat_lambda(s if self.training else max(0, s - 1), self.lambda_warmup)

    def quantized_weight(self):
        """q(w): α · trit of the current weight (t81's quantizer), float32 on the weight's device."""
        return quantize_weight(self.weight, self.threshold, self.granularity)

    def forward(self, x):
        lam = self.current_lambda()
        if self.training:
            with torch.no_grad():
                self.qat_step += 1
        w = self.weight
        q = self.quantized_weight().to(w.dtype)
        wd = w.detach()
        target = q if lam >= 1.0 else wd + lam * (q - wd)
        # Straight-through: the value is target, d/dw is the identity.
        w_eff = target + (w - wd)
        return nn.functional.linear(x, w_eff, self.bias)

    def pack(self, *, activations="int8", threads=None, format="tq2_0"):
        """The packed inference module of q(w) (λ = 1) and this bias."""
        return PackedTernaryLinear.from_float(self.weight, self.bias, threshold=self.threshold,
                                              granularity=self.granularity, activations=activations,
                                              threads=threads, format=format, from_conv1d=self.from_conv1d)

    def extra_repr(self):
        return (f"{super().extra_repr()}, threshold={self.threshold:g}, granularity='{self.granularity}', "
                f"lambda_warmup={self.lambda_warmup}")


def _check_activations(activations):
    if not isinstance(activations, str):
        raise TypeError(f"activations must be a str (got {type(activations).__name__})")
    if activations not in ("f32", "int8", "auto"):
        raise ValueError(f"activations must be 'f32', 'int8' or 'auto' (got '{activations}')")
    return activations


class PackedTernaryLinear(nn.Module):
    """Inference: y = x · Wᵀ + b with W in TQ blocks, run by t81's kernels (t81lib.linear) on CPU
    float32 tensors of any leading shape; x and y are shared with the kernels, never copied
    (a non-contiguous x is made contiguous once). No gradient flows through it."""

    def __init__(self, packed, bias=None, *, activations="int8", threads=None, from_conv1d=False):
        super().__init__()
        if not isinstance(packed, PackedMatrix):
            raise TypeError(f"packed must be a t81lib.PackedMatrix (got {type(packed).__name__})")
        self.packed = packed
        self.out_features, self.in_features = packed.shape
        self.activations = _check_activations(activations)
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)):
            raise TypeError(f"threads must be an int or None (got {type(threads).__name__})")
        self.threads = threads
        self.threshold = packed.threshold
        self.granularity = packed.granularity
        self.from_conv1d = from_conv1d
        if bias is not None:
            bias = bias.detach().to("cpu", torch.float32).contiguous().clone()
            if bias.shape != (self.out_features,):
                raise ValueError(f"bias must have shape ({self.out_features},) (got {tuple(bias.shape)})")
        self.register_buffer("bias", bias)

    @classmethod
    def from_float(cls, weight, bias=None, *, threshold=0.45, granularity="block", format="tq2_0", **kw):
        w = weight.detach().to("cpu", torch.float32).contiguous().numpy()
        packed = PackedMatrix.from_float(w, _check_threshold(threshold), granularity=_check_granularity(granularity),
                                         format=format)
        return cls(packed, bias, **kw)

    def dequantized_weight(self):
        """α · trit (out, in) as a float32 tensor: the weights the kernels multiply by."""
        return torch.from_numpy(self.packed.dequantize())

    def forward(self, x):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor (got {type(x).__name__})")
        if x.dtype != torch.float32:
            raise TypeError(f"x must be float32 (got {x.dtype})")
        if x.device.type != "cpu":
            raise ValueError(f"x must be on the CPU (got {x.device}); t81's kernels run on the CPU")
        if x.dim() == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"x must have {self.in_features} features in its last dimension (got shape {tuple(x.shape)})")
        xn = x.detach().contiguous().numpy()
        y = torch.empty(tuple(x.shape[:-1]) + (self.out_features,), dtype=torch.float32)
        b = None if self.bias is None else self.bias.numpy()
        linear(xn, self.packed, b, activations=self.activations, threads=self.threads, out=y.numpy())
        return y

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
                f"format='{self.packed.format}', activations='{self.activations}'")


def _is_conv1d(m):
    """transformers' GPT-2 Conv1D (y = x·W + b, weight (in, out)), recognized without importing it."""
    return (type(m).__name__ == "Conv1D" and isinstance(getattr(m, "weight", None), torch.Tensor)
            and m.weight.dim() == 2 and getattr(m, "nf", None) == m.weight.shape[1])


def _skipped(name, skip):
    return name in skip or any(part in skip for part in name.split("."))


def convert(model, threshold=0.45, pack=False, skip=("lm_head",), granularity="block", *, lambda_warmup=0,
            activations="int8", threads=None, format="tq2_0"):
    """Swaps every nn.Linear and GPT-2 Conv1D of model (whose qualified name or a part of it is not
    in skip) for a TernaryLinear, or with pack=True for a PackedTernaryLinear, in place; returns
    the model (the new module if model itself is a linear)."""
    _check_threshold(threshold)
    _check_granularity(granularity)
    _check_warmup(lambda_warmup)
    if isinstance(skip, str):
        skip = (skip,)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module (got {type(model).__name__})")

    def swap(name, m):
        if isinstance(m, PackedTernaryLinear) or _skipped(name, skip):
            return None
        if isinstance(m, TernaryLinear):
            return m.pack(activations=activations, threads=threads, format=format) if pack else None
        conv = _is_conv1d(m)
        if not conv and not isinstance(m, nn.Linear):
            return None
        weight = m.weight.t() if conv else m.weight
        out_f, in_f = weight.shape
        if pack:
            return PackedTernaryLinear.from_float(weight, m.bias, threshold=threshold, granularity=granularity,
                                                  format=format, activations=activations, threads=threads,
                                                  from_conv1d=conv)
        t = TernaryLinear(in_f, out_f, bias=m.bias is not None, threshold=threshold, granularity=granularity,
                          lambda_warmup=lambda_warmup, device=weight.device, dtype=weight.dtype)
        with torch.no_grad():
            t.weight.copy_(weight)
            if m.bias is not None:
                t.bias.copy_(m.bias)
        t.from_conv1d = conv
        return t

    top = swap("", model)
    if top is not None:
        return top
    for name, parent in list(model.named_modules()):
        for child_name, child in list(parent.named_children()):
            new = swap(f"{name}.{child_name}" if name else child_name, child)
            if new is not None:
                setattr(parent, child_name, new)
    return model


def set_qat_step(model, step):
    """Sets the λ warm-up step of every TernaryLinear in model (e.g. when resuming training)."""
    for m in model.modules():
        if isinstance(m, TernaryLinear):
            m.qat_step.fill_(int(step))


def _write_safetensors(path, tensors):
    """model.safetensors of float32 tensors {name: numpy array}, written atomically."""
    header, offset = {}, 0
    for name, a in tensors.items():
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for a in tensors.values():
            f.write(np.ascontiguousarray(a, dtype="<f4").tobytes())
    os.replace(tmp, path)


def _config_dict(model, config):
    c = config if config is not None else getattr(model, "config", None)
    if c is None:
        raise ValueError("save_t81 needs the model's HF config: pass config= or give the model a .config")
    if hasattr(c, "to_dict"):
        c = c.to_dict()
    if not isinstance(c, dict):
        raise TypeError(f"config must be a dict or have to_dict() (got {type(c).__name__})")
    if c.get("model_type") not in ("gpt2", "llama", "phi3"):
        raise ValueError(f"config's model_type must be gpt2, llama or phi3 (got {c.get('model_type')!r})")
    return c


def _quant_settings(model, threshold, granularity):
    """The one (threshold, granularity) of the model's ternary modules, else the arguments or
    TernaryLinear's defaults; arguments that contradict the modules are refused."""
    seen = {(m.threshold, m.granularity) for m in model.modules()
            if isinstance(m, (TernaryLinear, PackedTernaryLinear)) and m.threshold is not None}
    if len(seen) > 1:
        raise ValueError(f"the model's ternary modules use different settings {sorted(seen)}; a t81 checkpoint has one")
    mod_thr, mod_gran = next(iter(seen)) if seen else (None, None)
    thr = mod_thr if threshold is None else _check_threshold(threshold)
    gran = mod_gran if granularity is None else _check_granularity(granularity)
    if seen and (float(np.float32(thr)) != float(np.float32(mod_thr)) or gran != mod_gran):
        raise ValueError(f"threshold={thr:g}, granularity='{gran}' differ from the model's ternary modules "
                         f"({mod_thr:g}, '{mod_gran}')")
    return (0.45 if thr is None else thr), ("block" if gran is None else gran)


def save_t81(model, out_dir, *, config=None, threshold=None, granularity=None, format="tq2_0", float_type="f32",
             tokenizer_dir=None):
    """Writes a t81 checkpoint of an HF-style GPT-2 / Llama / Phi-3 module (transformers' state-dict
    names) to out_dir: an HF folder (config.json + model.safetensors, float32) made in a temporary
    folder, then t81 convert's ConvertCheckpoint with the model's threshold and granularity, so the
    block linears get exactly the trits and scales TernaryLinear's forward used. Returns
    convert's report."""
    cfg = _config_dict(model, config)
    thr, gran = _quant_settings(model, threshold, granularity)
    tensors = {}
    for name, t in model.state_dict().items():
        if t.is_floating_point():
            tensors[name] = t.detach().to("cpu", torch.float32).numpy()
    for name, m in model.named_modules():
        if isinstance(m, PackedTernaryLinear):  # d·t: re-ternarized to the same trits and scales
            w = m.packed.dequantize()
            tensors[f"{name}.weight"] = w.T if m.from_conv1d else w
        elif isinstance(m, TernaryLinear) and m.from_conv1d:
            tensors[f"{name}.weight"] = tensors[f"{name}.weight"].T
    out_dir = os.fspath(out_dir)
    with tempfile.TemporaryDirectory(prefix="t81_save_") as hf:
        with open(os.path.join(hf, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        _write_safetensors(os.path.join(hf, "model.safetensors"), tensors)
        if tokenizer_dir is not None:
            for fn in os.listdir(tokenizer_dir):
                if fn.startswith(("tokenizer", "vocab", "merges", "special_tokens", "encoder", "generation_config")):
                    shutil.copy(os.path.join(tokenizer_dir, fn), hf)
        try:
            return _t81lib.convert_checkpoint(hf, out_dir, thr, granularity=gran, format=format, float_type=float_type)
        except ValueError as e:  # name the state dict, not the temporary folder
            raise ValueError(str(e).replace(hf + "/model.safetensors", "the state dict").replace(hf, "the state dict")) from None
