#include "plan/replan.h"

#include <gtest/gtest.h>

namespace nightshift::plan {
namespace {

InputFileRecord File(int32_t index, std::string path, int64_t size) {
  InputFileRecord f;
  f.index = index;
  f.path = std::move(path);
  f.size = size;
  f.mtime_ns = 1;
  return f;
}

ShardRecord Shard(int64_t id, int32_t file, int64_t b, int64_t e, bool committed) {
  ShardRecord s;
  s.shard_id = id;
  s.file_index = file;
  s.row_begin = b;
  s.row_end = e;
  s.state = committed ? ShardState::kCommitted : ShardState::kPending;
  return s;
}

using Triples = std::vector<std::tuple<int64_t, int32_t, int64_t, int64_t, bool>>;

Triples Of(const Replanned& r) {
  Triples out;
  for (const auto& s : r.shards)
    out.emplace_back(s.shard_id, s.file_index, s.row_begin, s.row_end,
                     s.state == ShardState::kCommitted);
  return out;
}

TEST(ReplanTest, CoincidingShardsOfUnchangedFilesStayCommittedOthersStartOver) {
  // Old input: a (2 shards, first committed), b (2 shards, first committed).
  std::vector<InputFileRecord> old_files = {File(0, "/a", 10), File(1, "/b", 10)};
  std::vector<ShardRecord> old_shards = {Shard(0, 0, 0, 5, true), Shard(1, 0, 5, 10, false),
                                         Shard(2, 1, 0, 5, true), Shard(3, 1, 5, 10, false)};
  // New input: a new file "/0" sorts first, a is unchanged, b grew.
  Plan plan;
  plan.files = {File(0, "/0", 4), File(1, "/a", 10), File(2, "/b", 20)};
  plan.shards = {Shard(0, 0, 0, 4, false), Shard(1, 1, 0, 5, false), Shard(2, 1, 5, 10, false),
                 Shard(3, 2, 0, 10, false), Shard(4, 2, 10, 20, false)};
  Replanned r = Replan(old_files, old_shards, plan);
  EXPECT_EQ(Of(r), (Triples{{0, 1, 0, 5, true},           // a's committed shard, a is now #1
                            {2, kStaleFile, 0, 5, true},  // b changed: its old rows stay stale
                            {4, 0, 0, 4, false},          // the new file
                            {5, 1, 5, 10, false},         // a's uncommitted rest
                            {6, 2, 0, 10, false},         // all of the new b
                            {7, 2, 10, 20, false}}));
  EXPECT_EQ(r.kept, 1);
  EXPECT_EQ(r.stale, 1);
  EXPECT_EQ(r.planned, 4);
}

TEST(ReplanTest, ANewShardOverlappingCommittedRowsOfAnUnchangedFileIsCutToTheRest) {
  std::vector<InputFileRecord> files = {File(0, "/a", 10)};
  Plan plan;
  plan.files = files;
  plan.shards = {Shard(0, 0, 0, 10, false)};
  Replanned r = Replan(files, {Shard(0, 0, 2, 4, true), Shard(1, 0, 6, 7, true)}, plan);
  EXPECT_EQ(Of(r), (Triples{{0, 0, 2, 4, true},
                            {1, 0, 6, 7, true},
                            {2, 0, 0, 2, false},
                            {3, 0, 4, 6, false},
                            {4, 0, 7, 10, false}}));
}

ShardRecord Packed(int64_t id, int32_t first, int32_t last, int64_t rows, bool committed) {
  ShardRecord s = Shard(id, first, 0, rows, committed);
  s.file_last = last;
  return s;
}

InputFileRecord FileRows(int32_t index, std::string path, int64_t size, int64_t rows) {
  InputFileRecord f = File(index, std::move(path), size);
  f.rows = rows;
  return f;
}

TEST(ReplanTest, ARemovedFileOfACommittedPackRedoesNoOtherFile) {
  // Small files packed two by two, both packs committed; then b is removed.
  std::vector<InputFileRecord> old_files = {FileRows(0, "/a", 10, 3), FileRows(1, "/b", 10, 3),
                                            FileRows(2, "/c", 10, 3), FileRows(3, "/d", 10, 3)};
  std::vector<ShardRecord> old_shards = {Packed(0, 0, 1, 6, true), Packed(1, 2, 3, 6, true)};
  Plan plan;  // the new listing packs a, c and d together
  plan.files = {FileRows(0, "/a", 10, 3), FileRows(1, "/c", 10, 3), FileRows(2, "/d", 10, 3)};
  plan.shards = {Packed(0, 0, 2, 9, false)};
  Replanned r = Replan(old_files, old_shards, plan);
  EXPECT_EQ(Of(r), (Triples{{0, kStaleFile, 0, 6, true},  // a and the old b: b is gone
                            {1, 1, 0, 6, true}}));        // c and d, now #1 and #2
  EXPECT_EQ(r.shards[1].file_last, 2);
  EXPECT_EQ(r.kept, 1);
  EXPECT_EQ(r.stale, 1);
  EXPECT_EQ(r.planned, 0);  // a, c and d are done: nothing is read twice
}

TEST(ReplanTest, AChangedFileOfACommittedPackIsReadAgainAloneInFull) {
  std::vector<InputFileRecord> old_files = {FileRows(0, "/a", 10, 3), FileRows(1, "/b", 10, 3),
                                            FileRows(2, "/c", 10, 3), FileRows(3, "/d", 10, 3)};
  std::vector<ShardRecord> old_shards = {Packed(0, 0, 1, 6, true), Packed(1, 2, 3, 6, true)};
  Plan plan;  // b was rewritten with 4 rows
  plan.files = {FileRows(0, "/a", 10, 3), FileRows(1, "/b", 12, 4), FileRows(2, "/c", 10, 3),
                FileRows(3, "/d", 10, 3)};
  plan.shards = {Packed(0, 0, 1, 7, false), Packed(1, 2, 3, 6, false)};
  Replanned r = Replan(old_files, old_shards, plan);
  EXPECT_EQ(Of(r), (Triples{{0, kStaleFile, 0, 6, true},
                            {1, 2, 0, 6, true},
                            {2, 1, 0, 4, false}}));  // the new b, alone, all its rows
  EXPECT_EQ(r.shards[2].file_last, -1);
  EXPECT_EQ(r.planned, 1);
}

}  // namespace
}  // namespace nightshift::plan
