// Writes Llama 2's tokenizer as a Hugging Face tokenizer.json (+ tokenizer_config.json) into
// third_party/npm-text/llama2-js/, from the vocabulary and merges that llama-tokenizer-js embeds,
// so the C++ tokenizer can be checked against that package's own encoder (scripts/text/golden.mjs).
// The layout is the one of meta-llama/Llama-2-7b-hf's tokenizer.json: SentencePiece-style BPE
// (Prepend/Replace normalizer, byte fallback, <s> prepended by the post-processor); merges are
// written as 2-element arrays. Run by scripts/text/install.sh.
import { createRequire } from "node:module";
import { mkdirSync, writeFileSync, renameSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const npm = resolve(root, "third_party/npm-text");
const req = createRequire(resolve(npm, "package.json"));
const { default: llama } = await import(pathToFileURL(req.resolve("llama-tokenizer-js")).href);

const vocab = Object.create(null);
llama.vocabById.forEach((tok, id) => {
  if (Object.hasOwn(vocab, tok)) throw new Error(`duplicate token ${JSON.stringify(tok)}`);
  vocab[tok] = id;
});
const merges = [...llama.merges.keys()].map((m) => {
  const parts = m.split(" ");
  if (parts.length !== 2) throw new Error(`merge ${JSON.stringify(m)} is not two tokens`);
  return parts;
});
const special = (content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
const tokenizer = {
  version: "1.0",
  truncation: null,
  padding: null,
  added_tokens: [special("<unk>", 0), special("<s>", 1), special("</s>", 2)],
  normalizer: { type: "Sequence", normalizers: [{ type: "Prepend", prepend: "\u2581" }, { type: "Replace", pattern: { String: " " }, content: "\u2581" }] },
  pre_tokenizer: null,
  post_processor: {
    type: "TemplateProcessing",
    single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
    pair: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "<s>", type_id: 1 } }, { Sequence: { id: "B", type_id: 1 } }],
    special_tokens: { "<s>": { id: "<s>", ids: [1], tokens: ["<s>"] } },
  },
  decoder: { type: "Sequence", decoders: [{ type: "Replace", pattern: { String: "\u2581" }, content: " " }, { type: "ByteFallback" }, { type: "Fuse" }, { type: "Strip", content: " ", start: 1, stop: 0 }] },
  model: { type: "BPE", dropout: null, unk_token: "<unk>", continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, vocab, merges },
};
const config = { add_bos_token: true, add_eos_token: false, bos_token: "<s>", eos_token: "</s>", unk_token: "<unk>", tokenizer_class: "LlamaTokenizer" };
const out = resolve(npm, "llama2-js");
mkdirSync(out, { recursive: true });
for (const [name, obj] of [["tokenizer_config.json", config], ["tokenizer.json", tokenizer]]) {
  writeFileSync(resolve(out, name + ".tmp"), JSON.stringify(obj));
  renameSync(resolve(out, name + ".tmp"), resolve(out, name));
}
console.log(`text: wrote ${out}/tokenizer.json (${llama.vocabById.length} tokens, ${merges.length} merges)`);
