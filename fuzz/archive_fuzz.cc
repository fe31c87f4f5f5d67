// libFuzzer target: arbitrary bytes read as a herd archive (a tar holding
// metadata.json and files/...). read_archive_memory may reject them
// (ArchiveError) but must never crash, hang or throw anything else. An archive
// it accepts must be consistent and survive a write/read round trip unchanged.
// Seeds: fuzz/corpus/archive (regenerate with HERD_UPDATE_FUZZ_SEEDS=1
// herd_archive_test --gtest_filter='ArchiveFuzzSeeds.*').
#include <cstddef>
#include <cstdint>
#include <string>

#include "archive/archive.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  herd::archive::Archive a;
  try {
    a = herd::archive::read_archive_memory(bytes);
  } catch (const herd::archive::ArchiveError&) {
    return 0;
  }
  // Contract of a successful read.
  if (a.files.find(a.main) == a.files.end()) __builtin_trap();
  if (!a.options.is_object()) __builtin_trap();
  for (const auto& [path, contents] : a.files) {
    if (herd::archive::path_for_entry(herd::archive::entry_name_for(path)) != path) __builtin_trap();
  }
  // What was read can be written again and reads back the same. Writing must
  // not fail: everything read was validated with the writer's rules.
  try {
    const herd::archive::Archive b = herd::archive::read_archive_memory(herd::archive::write_archive_memory(a));
    if (b.main != a.main || b.files != a.files || b.env != a.env || b.options != a.options ||
        b.herd_version != a.herd_version)
      __builtin_trap();
  } catch (const herd::archive::ArchiveError&) {
    __builtin_trap();
  }
  return 0;
}
