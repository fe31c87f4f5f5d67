#include "js/slab_allocator.h"

#include <malloc.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace herd::js {

namespace {

constexpr std::size_t kSlab = 64 * 1024;
constexpr std::size_t kMaxSmall = 256;
constexpr std::size_t kClasses = kMaxSmall / 8;             // class c holds blocks of (c + 1) * 8 bytes
constexpr std::size_t kRegionMax = std::size_t{64} << 30;   // address space reserved once (64 GiB, untouched)
constexpr std::size_t kRegionMin = std::size_t{256} << 20;  // ... or less where that much is refused
constexpr std::size_t kOverhead = 0;                        // bytes of bookkeeping per block

char* g_region = nullptr;
std::size_t g_region_size = 0;
std::atomic<std::size_t> g_next{0};
std::once_flag g_once;

struct SlabHeader {
  std::uint32_t block;  ///< block size of this slab, bytes
};

struct FreeBlock {
  FreeBlock* next;
};

struct ThreadCache {
  FreeBlock* free[kClasses] = {};
  char* bump[kClasses] = {};  ///< next unused block in the current slab of the class
  char* end[kClasses] = {};
};
thread_local ThreadCache t_cache;

// One subtraction and compare: false for every pointer while no region is reserved (size 0).
inline bool in_region(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) - reinterpret_cast<std::uintptr_t>(g_region) < g_region_size;
}

inline std::size_t block_size(const void* p) {
  auto slab = reinterpret_cast<std::uintptr_t>(p) & ~(kSlab - 1);
  return reinterpret_cast<const SlabHeader*>(slab)->block;
}

// A new slab for class c, then its first block; nullptr when the region is used up.
[[gnu::noinline]] void* small_alloc_slow(ThreadCache& tc, std::size_t c) {
  std::size_t bs = (c + 1) * 8;
  if (tc.bump[c] == nullptr || tc.bump[c] + bs > tc.end[c]) {
    std::size_t off = g_next.fetch_add(kSlab);
    if (off + kSlab > g_region_size) return nullptr;
    char* slab = g_region + off;
    reinterpret_cast<SlabHeader*>(slab)->block = static_cast<std::uint32_t>(bs);
    tc.bump[c] = slab + 16;  // header, keeps 8-byte alignment of blocks
    tc.end[c] = slab + kSlab;
  }
  void* p = tc.bump[c];
  tc.bump[c] += bs;
  return p;
}

// A block of class c ((c + 1) * 8 bytes): the thread's free list first, then the current slab.
inline void* small_alloc_class(std::size_t c) {
  ThreadCache& tc = t_cache;
  if (FreeBlock* b = tc.free[c]) {
    tc.free[c] = b->next;
    return b;
  }
  if (tc.bump[c] != nullptr && tc.bump[c] + (c + 1) * 8 <= tc.end[c]) {
    void* p = tc.bump[c];
    tc.bump[c] += (c + 1) * 8;
    return p;
  }
  return small_alloc_slow(tc, c);
}

inline void small_free_class(void* p, std::size_t c) {
  auto* b = static_cast<FreeBlock*>(p);
  ThreadCache& tc = t_cache;
  b->next = tc.free[c];
  tc.free[c] = b;
}

std::size_t usable(const void* p) {
  if (!p) return 0;
  return in_region(p) ? block_size(p) : malloc_usable_size(const_cast<void*>(p));
}

void* big_malloc(JSMallocState* s, std::size_t size) {
  void* p = std::malloc(size);
  if (!p) return nullptr;
  s->malloc_count++;
  s->malloc_size += malloc_usable_size(p) + kOverhead;
  return p;
}

[[gnu::noinline]] void* js_slab_malloc_slow(JSMallocState* s, std::size_t size) {
  if (s->malloc_size + size > s->malloc_limit) return nullptr;
  if (size - 1 < kMaxSmall) {  // 1..kMaxSmall
    std::size_t c = (size - 1) / 8;
    if (void* p = small_alloc_class(c)) {
      s->malloc_count++;
      s->malloc_size += (c + 1) * 8 + kOverhead;
      return p;
    }  // region exhausted: malloc
  }
  return big_malloc(s, size);
}

// The fast paths (a block from the thread's free list, a block back to it) have
// no call and save no register; everything else is in the _slow functions.
void* js_slab_malloc(JSMallocState* s, std::size_t size) {
  if (size - 1 < kMaxSmall && s->malloc_size + size <= s->malloc_limit) {
    std::size_t c = (size - 1) / 8;
    ThreadCache& tc = t_cache;
    if (FreeBlock* b = tc.free[c]) {
      tc.free[c] = b->next;
      s->malloc_count++;
      s->malloc_size += (c + 1) * 8 + kOverhead;
      return b;
    }
  }
  return js_slab_malloc_slow(s, size);
}

[[gnu::noinline]] void js_slab_free_slow(JSMallocState* s, void* p) {
  if (!p) return;
  s->malloc_count--;
  s->malloc_size -= malloc_usable_size(p) + kOverhead;
  std::free(p);
}

void js_slab_free(JSMallocState* s, void* p) {
  if (!in_region(p)) return js_slab_free_slow(s, p);
  std::size_t bs = block_size(p);
  s->malloc_count--;
  s->malloc_size -= bs + kOverhead;
  small_free_class(p, bs / 8 - 1);
}

void* js_slab_realloc(JSMallocState* s, void* p, std::size_t size) {
  if (!p) return size == 0 ? nullptr : js_slab_malloc(s, size);
  if (size == 0) {
    js_slab_free(s, p);
    return nullptr;
  }
  if (in_region(p)) {
    std::size_t old = block_size(p);
    if (size <= old) return p;  // shrinking or within the block: keep it
    if (s->malloc_size + size - old > s->malloc_limit) return nullptr;
    void* q = size <= kMaxSmall ? small_alloc_class((size - 1) / 8) : std::malloc(size);
    if (!q) return nullptr;
    std::memcpy(q, p, old);
    small_free_class(p, old / 8 - 1);
    s->malloc_size += usable(q) - old;
    return q;
  }
  std::size_t old = malloc_usable_size(p);
  if (s->malloc_size + size - old > s->malloc_limit) return nullptr;
  void* q = std::realloc(p, size);
  if (!q) return nullptr;
  s->malloc_size += malloc_usable_size(q) - old;
  return q;
}

std::size_t js_slab_usable_size(const void* p) {
  return usable(p);
}

// Reserves the region: 64 GiB of untouched address space where the system
// allows it, else the largest power-of-two size down to 256 MiB that it does
// (an RLIMIT_AS, or valgrind, which refuses a 64 GiB mapping: without this
// fallback, runs under callgrind measured glibc malloc instead). Slabs are found
// by masking a block's address, so the region starts on a slab boundary.
[[maybe_unused]] void reserve_region() {  // unused in ASan builds (slab off)
  for (std::size_t size = kRegionMax; size >= kRegionMin; size /= 2) {
    void* r = mmap(nullptr, size + kSlab, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED) continue;
    auto a = reinterpret_cast<std::uintptr_t>(r);
    g_region = reinterpret_cast<char*>((a + kSlab - 1) & ~(kSlab - 1));
    g_region_size = size;
    return;
  }
}

const JSMallocFunctions kFunctions = {js_slab_malloc, js_slab_free, js_slab_realloc, js_slab_usable_size};

}  // namespace

const JSMallocFunctions* slab_malloc_functions() {
#if defined(__SANITIZE_ADDRESS__)
  return nullptr;
#else
  const char* choice = std::getenv("HERD_JS_ALLOCATOR");
  if (choice && std::strcmp(choice, "malloc") == 0) return nullptr;
  std::call_once(g_once, reserve_region);
  return g_region ? &kFunctions : nullptr;
#endif
}

}  // namespace herd::js
