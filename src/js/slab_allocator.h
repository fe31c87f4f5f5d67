#pragma once
// A small-object allocator for QuickJS runtimes. A VU's runtime makes about a
// thousand small allocations; glibc adds an 8-byte header to each and rounds
// to 16 bytes, about 10 KB per VU. Here blocks up to 256 bytes come from
// 64 KiB slabs in 8-byte size classes with no per-block header (the class is
// found from the slab), from per-thread free lists: each worker thread owns
// its VUs' runtimes, so no locking. Larger blocks go to malloc.
// Not used in AddressSanitizer builds, where malloc's checks matter more.

#include <quickjs.h>

namespace herd::js {

/// The allocator for JS_NewRuntime2, or nullptr when the default (malloc)
/// should be used: in ASan builds, or with HERD_JS_ALLOCATOR=malloc.
const JSMallocFunctions* slab_malloc_functions();

}  // namespace herd::js
