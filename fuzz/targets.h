// The code paths the fuzz harnesses drive, shared with tests/io/fuzz_regression_test.cc so a kept
// crashing input is replayed exactly as the fuzzer ran it. Each Feed* function takes one fuzz
// input, writes it (or the parts it is cut into) to fixed file names in its own folder of a
// per-process scratch directory, runs a reader over it and everything that reader's result
// offers, and returns the first error (OK when the input was accepted and fully walked).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

#include "t81/base/status.h"

namespace t81::fuzz {

// The inputs split by CutParts are separated by this byte sequence (at most parts - 1 cuts).
inline constexpr std::string_view kPartSeparator = "\n\n\n";
std::vector<std::string_view> CutParts(std::string_view in, size_t parts);

// <temp>/t81_fuzz_<pid>_XXXXXX, created on first use and removed with its contents at exit;
// sub is created inside it when missing.
std::filesystem::path ScratchDir(const char* sub);

// GGUF: GgufFile::Open, every metadata value and tensor (dequantized), then Tokenizer::FromGguf
// and an Encode / Decode round trip when the keys make a tokenizer.
Status FeedGguf(const uint8_t* data, size_t size);
// safetensors: SafeTensorsFile::Open, then ReadFloat (and ReadInt) of every tensor.
Status FeedSafetensors(const uint8_t* data, size_t size);
// config.json: models::ReadModelLayout on a folder holding only it (decoder or ViT config).
Status FeedConfig(const uint8_t* data, size_t size);
// IDX: ParseIdxImages / ParseIdxLabels on the bytes; then the input cut in two (images, labels)
// as a Fashion-MNIST "train" split for LoadFashionMnist (gzip or plain), whose status it returns.
Status FeedIdx(const uint8_t* data, size_t size);
// CIFAR binary: ParseCifar of the bytes as CIFAR-10 and as CIFAR-100, each set accepted walked
// through Preprocess (3 x 8 x 8 and 3 x 40 x 40), then LoadImageSet of the bytes as test_batch.bin
// and test.bin. OK when either kind accepts the input; else the CIFAR-10 error. Aborts when an
// accepted set breaks its promises (shape, labels in range, finite outputs).
Status FeedCifar(const uint8_t* data, size_t size);
// preprocessor_config.json: LoadImageProcessor of a folder holding only it, for 3 channels (whose
// status it returns) and 1 channel; an accepted processor is written back with ImageProcessorJson
// and must read back equal (else abort), then preprocesses two 3 x 8 x 8 images when its size is
// at most 128 x 128.
Status FeedImageProcessor(const uint8_t* data, size_t size);
// tokenizer.json [+ tokenizer_config.json [+ config.json]] (cut at kPartSeparator), then
// Tokenizer::Load of the folder and an Encode / Decode round trip.
Status FeedTokenizerJson(const uint8_t* data, size_t size);
// vocab.json + merges.txt [+ tokenizer_config.json], the same way.
Status FeedTokenizerBpe(const uint8_t* data, size_t size);

}  // namespace t81::fuzz
