# Per-ISA object libraries: only these files see ISA flags.
set(T81_ISA_FLAGS_AVX2 -mavx2 -mfma -mf16c -Wno-maybe-uninitialized)
set(T81_ISA_FLAGS_AVX512 -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -Wno-maybe-uninitialized
    -Wno-uninitialized)  # GCC 12: false positives inside its own AVX-512 headers (_mm512_undefined_*)
set(T81_ISA_FLAGS_AMX ${T81_ISA_FLAGS_AVX512} -mavx512bf16 -mamx-tile -mamx-bf16 -mamx-int8)

if(NOT CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64")
  set(T81_ENABLE_AVX2 OFF)
  set(T81_ENABLE_AVX512 OFF)
endif()

# t81_isa_sources(TARGET ISA FILES...): add FILES to TARGET compiled with the ISA's flags.
function(t81_isa_sources target isa)
  set_source_files_properties(${ARGN} PROPERTIES COMPILE_OPTIONS "${T81_ISA_FLAGS_${isa}}")
  target_sources(${target} PRIVATE ${ARGN})
endfunction()
