#pragma once
// The snapshot's compact binary wire form (src/metrics/WIRE_FORMAT.md,
// "Binary form"), the cheap encoding a coordinator asks its runners for:
// every string (metric name, tag key, tag value) once, tag sets once,
// histograms as runs of varint counts. Equal to the JSON form
// bucket for bucket: from_binary(to_binary(s)) and from_json(to_json(s)) decode
// to the same snapshot.
//
// Negotiated per request: `GET /v1/snapshot` with an Accept header that lists
// kSnapshotBinaryType is answered in it (Content-Type kSnapshotBinaryType);
// any other Accept gets the JSON form, so curl and older peers are unchanged.

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_set>

#include "metrics/sink.h"

namespace herd::metrics {

/// The media type of the binary form (its version is inside the payload).
inline constexpr std::string_view kSnapshotBinaryType = "application/vnd.herd.snapshot";

/// Tag sets shared across decodes: a coordinator decodes every runner's
/// snapshot with one pool, so equal tag sets of different runners share
/// storage and the merge compares them by pointer instead of by strings.
/// Bounded: past `limit` distinct sets it starts over (sets already handed
/// out stay valid; only the sharing is lost). Not thread-safe.
class TagSetPool {
 public:
  explicit TagSetPool(std::size_t limit = 100000) : limit_(limit) {}
  /// The pool's set equal to `t` (added when new).
  TagSet share(TagSet t);
  std::size_t size() const { return sets_.size(); }

 private:
  std::size_t limit_;
  std::unordered_set<TagSet, TagSetHash> sets_;
};

/// Encodes `s` (series of metrics outside `s.metrics` are left out, as to_json does).
std::string to_binary(const Snapshot& s);

/// Decodes the binary form. Validates everything from_json validates (names,
/// UTF-8 of every string, histogram invariants, unique series) plus bounds:
/// reads never pass the end, counts cannot exceed what the input could hold,
/// and histogram windows are limited in proportion to the input's size.
/// Throws std::invalid_argument ("invalid snapshot: ...") on any violation.
/// `pool` (optional): where the decoded tag sets are shared (TagSetPool).
Snapshot from_binary(std::string_view data, TagSetPool* pool = nullptr);

/// True when an Accept header value lists kSnapshotBinaryType (case-insensitive,
/// parameters allowed) without q=0.
bool accepts_binary_snapshot(std::string_view accept);

/// True when a Content-Type header value names kSnapshotBinaryType.
bool is_binary_snapshot_type(std::string_view content_type);

}  // namespace herd::metrics
