#include "metrics/tag_filter.h"

#include <gtest/gtest.h>

#include "metrics/sink.h"

namespace herd::metrics {
namespace {

using Tags = std::vector<std::pair<std::string, std::string>>;

TEST(TagFilterTest, DropsOnlyTheListedKeys) {
  TagFilter f({"url", "name"});
  TagSet in(Tags{{"url", "http://a/"}, {"name", "n"}, {"status", "200"}, {"team", "x"}});
  TagSet out = f.apply(in);
  EXPECT_EQ(out, TagSet(Tags{{"status", "200"}, {"team", "x"}}));
  EXPECT_EQ(f.apply(in), out);  // cached result is the same
  TagSet untouched(Tags{{"status", "500"}});
  EXPECT_EQ(f.apply(untouched), untouched);
}

TEST(TagFilterTest, DroppedSystemTags) {
  EXPECT_EQ(dropped_system_tags({"url", "status", "name"}, {"status"}), (std::vector<std::string>{"url", "name"}));
  EXPECT_TRUE(dropped_system_tags({"url", "status"}, {"url", "status"}).empty());
}

class Collect : public SampleObserver {
 public:
  void observe(const Registry&, const Sample& s) override { seen.push_back(*s.tags); }
  std::vector<TagSet> seen;
};

TEST(TagFilterTest, SinkAggregatesAndStreamsFilteredTags) {
  Registry reg;
  Sink sink(reg);
  auto obs = std::make_shared<Collect>();
  sink.set_observer(obs);
  sink.set_dropped_tags({"url"});
  sink.add(kHttpReqs, TagSet(Tags{{"url", "http://a/1"}, {"status", "200"}}), 1, 1);
  {
    Sink::Batch b(sink);
    b.add(kHttpReqs, TagSet(Tags{{"url", "http://a/2"}, {"status", "200"}}), 1, 2);
  }
  Snapshot snap = sink.snapshot();
  ASSERT_EQ(snap.series.size(), 1u);  // both URLs fall into one series once url is dropped
  EXPECT_EQ(snap.series.begin()->first.tags, TagSet(Tags{{"status", "200"}}));
  EXPECT_EQ(snap.series.begin()->second.sum, 2);
  ASSERT_EQ(obs->seen.size(), 2u);
  EXPECT_EQ(obs->seen[1].get("url"), nullptr);
}

}  // namespace
}  // namespace herd::metrics
