"""Plain-PyTorch GPT-2, Llama and Phi-3 causal LMs with transformers' module and state-dict names
and semantics (eager attention, no dropout), for the t81lib.torch tests (transformers is not
installed). Each model has .config (the HF config.json dict) and forward(ids (B, T)) -> logits;
from_fixture loads a golden fixture (tests/data/fixtures) into them."""

import json
import math

import torch
from torch import nn
import torch.nn.functional as F

from fixtures import read_safetensors


class Conv1D(nn.Module):
    """transformers' GPT-2 Conv1D: y = x·W + b with weight (in, out)."""

    def __init__(self, nf, nx):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.randn(nx, nf) * 0.02)
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x):
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).reshape(x.shape[:-1] + (self.nf,))


def causal_attention(q, k, v):
    """q (B, H, T, D), k/v (B, H, T, D): softmax(q·kᵀ/√D + causal mask)·v."""
    T = q.shape[2]
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    s = s.masked_fill(~mask, torch.finfo(s.dtype).min)
    return torch.softmax(s, dim=-1) @ v


class GPT2Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        C, self.H = c["n_embd"], c["n_head"]
        self.ln_1 = nn.LayerNorm(C, eps=c["layer_norm_epsilon"])
        self.attn = nn.Module()
        self.attn.c_attn, self.attn.c_proj = Conv1D(3 * C, C), Conv1D(C, C)
        self.ln_2 = nn.LayerNorm(C, eps=c["layer_norm_epsilon"])
        self.mlp = nn.Module()
        self.mlp.c_fc, self.mlp.c_proj = Conv1D(4 * C, C), Conv1D(C, 4 * C)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.attn.c_attn(self.ln_1(x)).split(C, dim=-1)
        heads = lambda t: t.view(B, T, self.H, C // self.H).transpose(1, 2)
        a = causal_attention(heads(q), heads(k), heads(v)).transpose(1, 2).reshape(B, T, C)
        x = x + self.attn.c_proj(a)
        return x + self.mlp.c_proj(F.gelu(self.mlp.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT2LMHeadModel(nn.Module):
    def __init__(self, V=256, C=256, L=1, H=4, max_t=32, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.config = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": V, "n_embd": C,
                       "n_layer": L, "n_head": H, "n_positions": max_t, "layer_norm_epsilon": 1e-5,
                       "activation_function": "gelu_new", "tie_word_embeddings": True}
        self.transformer = nn.Module()
        self.transformer.wte = nn.Embedding(V, C)
        self.transformer.wpe = nn.Embedding(max_t, C)
        nn.init.normal_(self.transformer.wte.weight, std=0.02)
        nn.init.normal_(self.transformer.wpe.weight, std=0.02)
        self.transformer.h = nn.ModuleList(GPT2Block(self.config) for _ in range(L))
        self.transformer.ln_f = nn.LayerNorm(C, eps=1e-5)
        self.lm_head = nn.Linear(C, V, bias=False)
        self.lm_head.weight = self.transformer.wte.weight

    def forward(self, ids):
        t = self.transformer
        x = t.wte(ids) + t.wpe(torch.arange(ids.shape[1]))
        for b in t.h:
            x = b(x)
        return self.lm_head(t.ln_f(x))


class RMSNorm(nn.Module):
    def __init__(self, C, eps):
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(C)), eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rope(x, theta):
    """HF rotate_half RoPE over x (B, H, T, D) at positions 0..T-1."""
    T, D = x.shape[2], x.shape[3]
    inv = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))
    f = torch.outer(torch.arange(T).float(), inv)
    emb = torch.cat((f, f), dim=-1)
    x1, x2 = x[..., : D // 2], x[..., D // 2 :]
    return x * emb.cos() + torch.cat((-x2, x1), dim=-1) * emb.sin()


class DecoderLayer(nn.Module):
    """A Llama block, or Phi-3's with fused qkv_proj and gate_up_proj."""

    def __init__(self, c, fused):
        super().__init__()
        C, self.H, self.KV, self.D, FF = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], \
            c["hidden_size"] // c["num_attention_heads"], c["intermediate_size"]
        self.fused, self.theta = fused, c["rope_theta"]
        self.input_layernorm = RMSNorm(C, c["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(C, c["rms_norm_eps"])
        a, m = nn.Module(), nn.Module()
        if fused:
            a.qkv_proj = nn.Linear(C, (self.H + 2 * self.KV) * self.D, bias=False)
            m.gate_up_proj = nn.Linear(C, 2 * FF, bias=False)
        else:
            a.q_proj = nn.Linear(C, self.H * self.D, bias=False)
            a.k_proj = nn.Linear(C, self.KV * self.D, bias=False)
            a.v_proj = nn.Linear(C, self.KV * self.D, bias=False)
            m.gate_proj, m.up_proj = nn.Linear(C, FF, bias=False), nn.Linear(C, FF, bias=False)
        a.o_proj, m.down_proj = nn.Linear(self.H * self.D, C, bias=False), nn.Linear(FF, C, bias=False)
        self.self_attn, self.mlp = a, m

    def forward(self, x):
        B, T, C = x.shape
        h, a, m = self.input_layernorm(x), self.self_attn, self.mlp
        if self.fused:
            q, k, v = a.qkv_proj(h).split([self.H * self.D, self.KV * self.D, self.KV * self.D], dim=-1)
        else:
            q, k, v = a.q_proj(h), a.k_proj(h), a.v_proj(h)
        q = rope(q.view(B, T, self.H, self.D).transpose(1, 2), self.theta)
        k = rope(k.view(B, T, self.KV, self.D).transpose(1, 2), self.theta)
        v = v.view(B, T, self.KV, self.D).transpose(1, 2)
        rep = self.H // self.KV
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        x = x + a.o_proj(causal_attention(q, k, v).transpose(1, 2).reshape(B, T, self.H * self.D))
        h = self.post_attention_layernorm(x)
        if self.fused:
            gate, up = m.gate_up_proj(h).chunk(2, dim=-1)
        else:
            gate, up = m.gate_proj(h), m.up_proj(h)
        return x + m.down_proj(F.silu(gate) * up)


class LlamaForCausalLM(nn.Module):
    """Llama (model_type 'llama') or, with phi3=True, Phi-3 ('phi3'); untied head."""

    def __init__(self, V=256, C=256, L=1, H=4, KV=2, FF=512, max_t=32, phi3=False, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.config = {"model_type": "phi3" if phi3 else "llama",
                       "architectures": ["Phi3ForCausalLM" if phi3 else "LlamaForCausalLM"], "vocab_size": V,
                       "hidden_size": C, "num_hidden_layers": L, "num_attention_heads": H, "num_key_value_heads": KV,
                       "intermediate_size": FF, "max_position_embeddings": max_t, "rms_norm_eps": 1e-5,
                       "hidden_act": "silu", "rope_theta": 10000.0, "tie_word_embeddings": False}
        self.model = nn.Module()
        self.model.embed_tokens = nn.Embedding(V, C)
        self.model.layers = nn.ModuleList(DecoderLayer(self.config, phi3) for _ in range(L))
        self.model.norm = RMSNorm(C, 1e-5)
        self.lm_head = nn.Linear(C, V, bias=False)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, ids):
        x = self.model.embed_tokens(ids)
        for layer in self.model.layers:
            x = layer(x)
        return self.lm_head(self.model.norm(x))


def from_fixture(folder):
    """The fixture folder's model as one of the classes above, its weights loaded."""
    with open(f"{folder}/config.json") as f:
        c = json.load(f)
    t = c["model_type"]
    if t == "gpt2":
        m = GPT2LMHeadModel(c["vocab_size"], c["n_embd"], c["n_layer"], c["n_head"], c["n_positions"])
    else:
        m = LlamaForCausalLM(c["vocab_size"], c["hidden_size"], c["num_hidden_layers"], c["num_attention_heads"],
                             c.get("num_key_value_heads", c["num_attention_heads"]), c["intermediate_size"],
                             c["max_position_embeddings"], phi3=(t == "phi3"))
        m.config["rms_norm_eps"] = c["rms_norm_eps"]
        for layer in m.model.layers:
            layer.input_layernorm.eps = layer.post_attention_layernorm.eps = c["rms_norm_eps"]
        m.model.norm.eps = c["rms_norm_eps"]
    sd = {k: torch.from_numpy(v) for k, v in read_safetensors(f"{folder}/model.safetensors").items()}
    missing, _ = m.load_state_dict(sd, strict=False)
    assert set(missing) <= {"lm_head.weight"}, missing
    return m
