#!/usr/bin/env python3
"""Writes the fuzz seed corpora (fuzz/corpus/<harness>/): small valid inputs for each reader, the
config.json files of tests/data/fixtures, and safetensors headers shaped like the fixtures'.
Deterministic; rerun after changing it: python3 fuzz/make_seeds.py"""
import gzip
import json
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus")
FIXTURES = os.path.join(ROOT, "tests", "data", "fixtures")
SEP = b"\n\n\n"  # fuzz/targets.h kPartSeparator


def put(harness, name, data):
    d = os.path.join(OUT, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def js(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


# ---- safetensors -------------------------------------------------------------------------------
DT = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def safetensors(tensors, metadata=None):
    head, data = {}, b""
    if metadata:
        head["__metadata__"] = metadata
    for name, dtype, shape in tensors:
        n = 1
        for s in shape:
            n *= s
        nbytes = n * DT[dtype]
        payload = bytes((i * 37 + len(name)) % 251 for i in range(nbytes))
        head[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + nbytes]}
        data += payload
    h = js(head).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def safetensors_seeds():
    put("safetensors", "f32_meta", safetensors([("w", "F32", [2, 3]), ("b", "F32", [3])], {"format": "pt"}))
    put("safetensors", "dtypes", safetensors([(d.lower(), d, [2, 2]) for d in DT]))
    put("safetensors", "scalar_empty", safetensors([("s", "F32", []), ("e", "F16", [0, 4])]))
    for fx in sorted(os.listdir(FIXTURES)):  # the fixtures' tensor names, shapes cut to [2]
        path = os.path.join(FIXTURES, fx, "model.safetensors")
        with open(path, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            head = json.loads(f.read(n))
        meta = head.pop("__metadata__", None)
        names = sorted(head)[:12]
        put("safetensors", fx, safetensors([(k, head[k]["dtype"], [2]) for k in names], meta))


# ---- GGUF --------------------------------------------------------------------------------------
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
SCALAR = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f", BOOL: "<B", U64: "<Q",
          I64: "<q", F64: "<d"}


def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gval(t, v):
    if t == STR:
        return gstr(v)
    return struct.pack(SCALAR[t], v)


def gguf(kvs, tensors, alignment=32):
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for key, t, v in kvs:
        out += gstr(key) + struct.pack("<I", t)
        if t == ARR:
            et, items = v
            out += struct.pack("<IQ", et, len(items)) + b"".join(gval(et, x) for x in items)
        else:
            out += gval(t, v)
    data, off = b"", 0
    for name, ne, gtype, payload in tensors:
        out += gstr(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne)
        out += struct.pack("<IQ", gtype, len(data))
        data += payload + b"\0" * (-len(payload) % alignment)
    out += b"\0" * (-len(out) % alignment)
    return out + data


def blocks(size, count, d_at):
    """count blocks of size bytes with an fp16 scale 0.5 at byte d_at of each."""
    b = bytearray((i * 29) % 256 for i in range(size * count))
    for k in range(count):
        b[k * size + d_at:k * size + d_at + 2] = struct.pack("<e", 0.5)
    return bytes(b)


TENSORS = [
    ("f32", [4, 2], 0, struct.pack("<8f", *[i * 0.25 - 1 for i in range(8)])),
    ("f16", [4], 1, struct.pack("<4e", 1.0, -2.0, 0.5, 3.0)),
    ("q8_0", [32, 2], 8, blocks(34, 2, 0)),
    ("tq1_0", [256], 34, blocks(54, 1, 52)),
    ("tq2_0", [256, 2], 35, blocks(66, 2, 64)),
]

def byte_alphabet():
    """GPT-2's spelling of the 256 byte values (printable bytes as themselves, others from U+0100)."""
    out, n = [], 0
    for b in range(256):
        if 0x21 <= b <= 0x7E or 0xA1 <= b <= 0xAC or 0xAE <= b <= 0xFF:
            out.append(chr(b))
        else:
            out.append(chr(0x100 + n))
            n += 1
    return out


BYTE_LEVEL = byte_alphabet() + ["ll", "He", "Hell", "Hello", "\u0120w", "<|endoftext|>"]


def gguf_seeds():
    general = [("general.architecture", STR, "llama"), ("general.name", STR, "fuzz-seed"),
               ("general.alignment", U32, 32), ("llama.block_count", U32, 2), ("llama.context_length", U64, 64),
               ("llama.embedding_length", U32, 64), ("llama.rope.freq_base", F32, 10000.0),
               ("llama.attention.layer_norm_rms_epsilon", F64, 1e-6), ("general.flag", BOOL, 1),
               ("general.small", ARR, (I16, [1, -2, 3])), ("general.big", ARR, (I64, [1 << 40, -5])),
               ("general.bytes", ARR, (U8, [1, 2, 255])), ("general.i8", I8, -3), ("general.u16", U16, 7)]
    put("gguf", "tensors", gguf(general, TENSORS))
    gpt2 = [("tokenizer.ggml.model", STR, "gpt2"), ("tokenizer.ggml.pre", STR, "gpt-2"),
            ("tokenizer.ggml.tokens", ARR, (STR, BYTE_LEVEL)),
            ("tokenizer.ggml.token_type", ARR, (I32, [1] * (len(BYTE_LEVEL) - 1) + [3])),
            ("tokenizer.ggml.merges", ARR, (STR, ["l l", "H e", "He ll", "Hell o", "\u0120 w"])),
            ("tokenizer.ggml.bos_token_id", U32, len(BYTE_LEVEL) - 1),
            ("tokenizer.ggml.eos_token_id", U32, len(BYTE_LEVEL) - 1),
            ("tokenizer.ggml.add_bos_token", BOOL, 0)]
    put("gguf", "gpt2_tokenizer", gguf([("general.architecture", STR, "gpt2")] + gpt2, TENSORS[:1]))
    put("gguf", "llama3_tokenizer", gguf([(k, t, "llama-bpe" if k == "tokenizer.ggml.pre" else v) for k, t, v in gpt2], []))
    sp = ["<unk>", "<s>", "</s>", "<0x0A>", "<0x41>", "\u2581", "H", "e", "l", "o", "\u2581H", "ll", "\u2581He", "llo",
          "\u2581Hello", "w", "\u2581w", "\u00fc"]
    types = [2, 3, 3, 6, 6] + [1] * (len(sp) - 5)
    scores = [0.0] * 5 + [-float(i) for i in range(len(sp) - 5)]
    llama = [("tokenizer.ggml.model", STR, "llama"), ("tokenizer.ggml.tokens", ARR, (STR, sp)),
             ("tokenizer.ggml.token_type", ARR, (I32, types)), ("tokenizer.ggml.scores", ARR, (F32, scores)),
             ("tokenizer.ggml.bos_token_id", U32, 1), ("tokenizer.ggml.eos_token_id", U32, 2),
             ("tokenizer.ggml.unknown_token_id", U32, 0), ("tokenizer.ggml.padding_token_id", I32, -1),
             ("tokenizer.ggml.add_bos_token", BOOL, 1), ("tokenizer.ggml.add_eos_token", BOOL, 0)]
    put("gguf", "llama_tokenizer", gguf(general[:2] + llama, TENSORS[2:3]))


# ---- config.json -------------------------------------------------------------------------------
def config_seeds():
    for fx in sorted(os.listdir(FIXTURES)):
        with open(os.path.join(FIXTURES, fx, "config.json"), "rb") as f:
            put("config", fx, f.read())
    put("config", "llama_rope_theta", js({"model_type": "llama", "vocab_size": 32, "hidden_size": 16,
                                          "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32,
                                          "max_position_embeddings": 8, "rope_theta": 500000.0,
                                          "rope_scaling": None, "partial_rotary_factor": 1.0}))
    put("config", "gpt2_defaults", js({"model_type": "gpt2", "vocab_size": 8, "n_embd": 4, "n_layer": 1, "n_head": 2,
                                       "n_positions": 4, "activation_function": "gelu", "layer_norm_epsilon": 1e-5}))


# ---- IDX ---------------------------------------------------------------------------------------
def idx(dims, payload):
    return struct.pack(">I", 0x800 | len(dims)) + b"".join(struct.pack(">I", d) for d in dims) + payload


def idx_seeds():
    images = idx([2, 28, 28], bytes((i * 7) % 256 for i in range(2 * 28 * 28)))
    labels = idx([2], bytes([3, 9]))
    put("idx", "plain", images + SEP + labels)
    gz = lambda b: gzip.compress(b, mtime=0)
    assert SEP not in gz(images) and SEP not in gz(labels)
    put("idx", "gzip", gz(images) + SEP + gz(labels))
    put("idx", "images_only", idx([1, 2, 3], bytes(6)))
    put("idx", "labels_only", labels)


# ---- CIFAR binary and preprocessor_config.json -----------------------------------------------
def cifar_seeds():
    pixels = lambda i: bytes((i * 11 + k) % 256 for k in range(3072))
    put("cifar", "cifar10_two", b"".join(bytes([l]) + pixels(i) for i, l in enumerate([0, 9])))
    put("cifar", "cifar100_two", b"".join(bytes([c, f]) + pixels(i) for i, (c, f) in enumerate([(19, 99), (0, 3)])))
    put("cifar", "cifar10_one", bytes([5]) + bytes(3072))


def image_processor_seeds():
    put("image_processor", "vit_base", js({"do_normalize": True, "do_rescale": True, "do_resize": True,
                                           "image_mean": [0.5, 0.5, 0.5], "image_processor_type": "ViTImageProcessor",
                                           "image_std": [0.5, 0.5, 0.5], "resample": 2,
                                           "rescale_factor": 0.00392156862745098,
                                           "size": {"height": 224, "width": 224}}))
    put("image_processor", "feature_extractor", js({"feature_extractor_type": "ViTFeatureExtractor", "size": 32,
                                                    "image_mean": 0.5, "image_std": 0.25, "do_normalize": False}))
    put("image_processor", "imagenet", js({"image_processor_type": "ViTImageProcessor", "size": {"height": 40, "width": 56},
                                           "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}))


# ---- tokenizers --------------------------------------------------------------------------------
def tokenizer_seeds():
    bl_vocab = {t: i for i, t in enumerate(BYTE_LEVEL[:-1])}
    added = [{"id": len(BYTE_LEVEL) - 1, "content": "<|endoftext|>", "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False, "special": True}]
    byte_level = {"version": "1.0", "added_tokens": added, "normalizer": None,
                  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                                    "use_regex": True},
                  "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                                     "use_regex": True},
                  "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
                  "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                            "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
                            "ignore_merges": False, "vocab": bl_vocab,
                            "merges": [["l", "l"], ["H", "e"], ["He", "ll"], ["Hell", "o"], ["\u0120", "w"]]}}
    put("tokenizer_json", "byte_level", js(byte_level))
    split = {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"},
             "behavior": "Isolated", "invert": False}
    llama3 = dict(byte_level, pre_tokenizer={"type": "Sequence", "pretokenizers": [
        split, {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        post_processor={"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}},
                                                                 {"Sequence": {"id": "A", "type_id": 0}}],
                        "pair": [], "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>",
                                                                         "ids": [len(BYTE_LEVEL) - 1],
                                                                         "tokens": ["<|endoftext|>"]}}})
    llama3["model"] = dict(byte_level["model"], ignore_merges=True, merges=["l l", "H e", "He ll", "Hell o", "\u0120 w"])
    put("tokenizer_json", "llama3_style", js(llama3))
    sp_vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, "<0x0A>": 3, "<0x41>": 4, "\u2581": 5, "H": 6, "e": 7, "l": 8,
                "o": 9, "\u2581H": 10, "ll": 11, "\u2581He": 12, "llo": 13, "\u2581Hello": 14}
    sp = {"version": "1.0",
          "added_tokens": [{"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                            "normalized": False, "special": True} for i, c in enumerate(["<unk>", "<s>", "</s>"])],
          "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                                             {"type": "Replace", "pattern": {"String": " "},
                                                              "content": "\u2581"}]},
          "pre_tokenizer": None,
          "post_processor": {"type": "TemplateProcessing",
                             "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                        {"Sequence": {"id": "A", "type_id": 0}}],
                             "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
          "decoder": {"type": "Sequence", "decoders": [
              {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, {"type": "ByteFallback"},
              {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
          "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                    "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                    "vocab": sp_vocab,
                    "merges": ["\u2581 H", "l l", "\u2581H e", "ll o", "\u2581He llo"]}}
    put("tokenizer_json", "sentencepiece", js(sp))
    meta = dict(sp, normalizer=None, pre_tokenizer={"type": "Metaspace", "replacement": "\u2581",
                                                    "prepend_scheme": "first", "split": False},
                decoder={"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False})
    cfg = {"bos_token": "<s>", "eos_token": {"content": "</s>", "lstrip": False}, "unk_token": "<unk>",
           "pad_token": None, "add_bos_token": True, "add_eos_token": False}
    put("tokenizer_json", "metaspace_configs", js(meta).encode() + SEP + js(cfg).encode() + SEP +
        js({"bos_token_id": 1, "eos_token_id": [2, 1], "pad_token_id": None}).encode())
    # vocab.json + merges.txt [+ tokenizer_config.json]
    merges = "#version: 0.2\nl l\nH e\nHe ll\nHell o\n\u0120 w\n"
    bpe_vocab = dict(bl_vocab, **{"<|endoftext|>": len(BYTE_LEVEL) - 1})
    put("tokenizer_bpe", "gpt2", js(bpe_vocab).encode() + SEP + merges.encode())
    put("tokenizer_bpe", "gpt2_config", js(bpe_vocab).encode() + SEP + merges.encode() + SEP + js(
        {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "add_bos_token": False,
         "added_tokens_decoder": {str(len(BYTE_LEVEL) - 1): {"content": "<|endoftext|>", "special": True}}}).encode())


if __name__ == "__main__":
    safetensors_seeds()
    gguf_seeds()
    config_seeds()
    idx_seeds()
    cifar_seeds()
    image_processor_seeds()
    tokenizer_seeds()
