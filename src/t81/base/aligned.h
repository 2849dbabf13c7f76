// 64-byte aligned heap buffers for kernel operands.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <new>
#include <utility>
#include <vector>

namespace t81::base {

template <typename T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U>&) {}  // NOLINT
  T* allocate(size_t n) {
    const size_t bytes = ((n * sizeof(T) + 63) / 64) * 64;
    void* p = std::aligned_alloc(64, bytes == 0 ? 64 : bytes);
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) { std::free(p); }
  template <typename U>
  bool operator==(const AlignedAllocator<U>&) const { return true; }
  template <typename U>
  bool operator!=(const AlignedAllocator<U>&) const { return false; }
};

template <typename T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

}  // namespace t81::base

namespace t81::base {

// An allocator for large float arenas: anonymous mmap (page-aligned, zero, and not resident until
// written) and no value-initialization, so a multi-hundred-MB arena costs no RSS for the parts
// that are never touched.
template <typename T>
struct LazyZeroAllocator {
  using value_type = T;
  LazyZeroAllocator() = default;
  template <typename U>
  LazyZeroAllocator(const LazyZeroAllocator<U>&) {}  // NOLINT
  T* allocate(size_t n) {
    void* p = mmap(nullptr, Bytes(n), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t n) { munmap(p, Bytes(n)); }
  static size_t Bytes(size_t n) { return n == 0 ? 4096 : (n * sizeof(T) + 4095) / 4096 * 4096; }
  template <typename U>
  void construct(U*) noexcept {}  // fresh anonymous pages are already zero
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
  template <typename U>
  bool operator==(const LazyZeroAllocator<U>&) const { return true; }
  template <typename U>
  bool operator!=(const LazyZeroAllocator<U>&) const { return false; }
};

// A float arena whose untouched pages cost no memory. Sized with resize(n) (zero-filled).
using ZeroedFloats = std::vector<float, LazyZeroAllocator<float>>;

}  // namespace t81::base
