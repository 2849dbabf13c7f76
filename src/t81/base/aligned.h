// 64-byte aligned heap buffers for kernel operands.
#pragma once

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

// An allocator for large float arenas: memory comes from calloc (fresh pages from the OS are
// already zero and stay non-resident until written), and value-initialization is skipped, so a
// multi-hundred-MB arena costs no RSS for the parts that are never touched.
template <typename T>
struct LazyZeroAllocator {
  using value_type = T;
  LazyZeroAllocator() = default;
  template <typename U>
  LazyZeroAllocator(const LazyZeroAllocator<U>&) {}  // NOLINT
  T* allocate(size_t n) {
    void* p = std::calloc(n == 0 ? 1 : n, sizeof(T));
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) { std::free(p); }
  template <typename U>
  void construct(U*) noexcept {}  // calloc'ed memory is already zero
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
