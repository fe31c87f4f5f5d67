#pragma once
// "k6/experimental/fs": read-only files loaded once per run (js::Bundle::read_file)
// and shared by every VU; each File object keeps its own read position.

#include <quickjs.h>

#include <cstdint>
#include <memory>
#include <string>

namespace herd::k6 {

/// The state behind a JS File object. Thread-confined to its VU, except
/// `data`, which is immutable and shared.
struct FsFile {
  std::shared_ptr<const std::string> data;  ///< the whole file; never null
  std::string path;                         ///< absolute path
  std::string name;                         ///< base name
  std::int64_t offset = 0;                  ///< read position in bytes, >= 0 (may pass the end)
};

/// The FsFile of a File object made by open(), or nullptr (no exception thrown).
FsFile* fs_file_of(JSValueConst v);

}  // namespace herd::k6
