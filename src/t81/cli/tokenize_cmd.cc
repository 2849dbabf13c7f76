// t81 tokenize: text -> token ids (one line, space-separated), or with --decode, ids -> text,
// through a model's tokenizer (src/t81/text).
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "t81/io/hf_cache.h"
#include "t81/base/file.h"
#include "t81/cli/commands.h"
#include "t81/cli/common.h"
#include "t81/text/tokenizer.h"

namespace t81::cli {
namespace {

struct TokenizeFlags {
  std::string path, text_file, prompt, ids;
  bool has_text = false, has_prompt = false, has_ids = false;
  bool special = false, decode = false, skip_special = false;
};

Result<std::vector<int32_t>> ParseIds(const std::string& s) {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == ' ' || s[i] == ',' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != ',' && s[j] != '\t' && s[j] != '\n' && s[j] != '\r') ++j;
    const std::string word = s.substr(i, j - i);
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(word.c_str(), &end, 10);
    if (word.empty() || *end != '\0' || errno != 0 || v < 0 || v > INT32_MAX)
      return Error("--ids: '" + word + "' is not a token id");
    ids.push_back(int32_t(v));
    i = j;
  }
  return ids;
}

Status RunTokenize(const TokenizeFlags& f) {
  if (f.decode) {
    if (f.has_text || f.has_prompt) return Error("--decode reads --ids, not --text or --prompt");
    if (!f.has_ids) return Error("--decode needs --ids");
  } else {
    if (f.has_ids) return Error("--ids needs --decode");
    if (f.has_text == f.has_prompt) return Error("give one of --text FILE or --prompt TEXT");
    if (f.skip_special) return Error("--skip-special needs --decode");
  }
  T81_ASSIGN_OR_RETURN(const text::Tokenizer tok, text::Tokenizer::Load(f.path));
  if (f.decode) {
    T81_ASSIGN_OR_RETURN(const std::vector<int32_t> ids, ParseIds(f.ids));
    auto s = tok.Decode(ids, {f.skip_special});
    if (!s.ok()) return Error("--ids: " + s.status().message());
    return WriteStdout(s.value());  // the text byte for byte, no newline added
  }
  std::string text = f.prompt;
  if (f.has_text) {
    T81_ASSIGN_OR_RETURN(text, base::ReadFile(f.text_file));
  }
  auto ids = tok.Encode(text, f.special);
  if (!ids.ok()) return Error((f.has_text ? f.text_file : std::string("--prompt")) + ": " + ids.status().message());
  std::string line;
  line.reserve(ids->size() * 6 + 1);
  for (size_t i = 0; i < ids->size(); ++i) {
    if (i) line += ' ';
    line += std::to_string((*ids)[i]);
  }
  line += '\n';
  return WriteStdout(line);
}

}  // namespace

void AddTokenize(CLI::App& app, Runner* run) {
  auto f = std::make_shared<TokenizeFlags>();
  CLI::App* c = app.add_subcommand("tokenize", "text -> token ids (or --decode: ids -> text) with a model's tokenizer");
  c->add_option("path", f->path, "model folder, tokenizer.json, vocab.json, encoder.json or a .gguf file (its tokenizer.ggml.* keys)")->required();
  CLI::Option* text = c->add_option("--text", f->text_file, "file whose bytes are the text (read whole)");
  CLI::Option* prompt = c->add_option("--prompt", f->prompt, "the text itself");
  c->add_flag("--special", f->special, "add the special tokens the tokenizer's post-processor adds (e.g. BOS)");
  c->add_flag("--decode", f->decode, "print the text of --ids instead");
  CLI::Option* ids = c->add_option("--ids", f->ids, "with --decode: token ids separated by spaces or commas");
  c->add_flag("--skip-special", f->skip_special, "with --decode: leave out special tokens (BOS, EOS, ...)");
  c->callback([f, run, text, prompt, ids] {
    f->has_text = text->count() > 0;
    f->has_prompt = prompt->count() > 0;
    f->has_ids = ids->count() > 0;
    *run = [f]() -> Status {
      T81_ASSIGN_OR_RETURN(f->path, io::ResolveModelPath(f->path));
      return RunTokenize(*f);
    };
  });
}

}  // namespace t81::cli
