// What every benchmark records beside its numbers, so that a chart drawn later (t81 report) can
// say when, from which source and on which machine they were measured: UTC timestamp, the git
// revision t81 was built from, the CPU model, the kernel ISA and the thread count.
#pragma once

#include <string>

#include "t81/cli/common.h"

namespace t81::cli {

std::string GitRevision();  // the revision built ("unknown" outside a git checkout)
std::string CpuModel();     // /proc/cpuinfo's "model name" ("unknown" when absent)
std::string ActiveIsa();    // the kernel table's ISA (scalar, avx2, avx512, amx)
std::string BlasConfig();   // OpenBLAS's own description: version, OpenMP or pthreads, core
// One line for the float training commands when OpenBLAS runs AVX2-or-older kernels on a CPU with
// AVX-512 (OpenBLAS picks its kernels once, when it loads, from OPENBLAS_CORETYPE or its own CPU
// table, which may not know the CPU): how to select its AVX-512 kernels. Empty otherwise.
std::string BlasCoreNote();
// Prints BlasCoreNote() on stderr as "[tag] note" when it is not empty.
void PrintBlasCoreNote(const char* tag);

// Sets timestamp, git_revision, cpu_model, isa and threads on a JSON object (json or ordered_json).
template <typename Json>
void AddRunInfo(Json& j, int threads, const std::string& isa) {
  j["timestamp"] = Timestamp();
  j["git_revision"] = GitRevision();
  j["cpu_model"] = CpuModel();
  j["isa"] = isa;
  j["threads"] = threads;
  j["blas"] = BlasConfig();
}

// One CSV field: quoted (RFC 4180) when it holds a comma, a quote or a line break.
std::string CsvField(const std::string& s);

}  // namespace t81::cli
