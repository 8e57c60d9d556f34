#include "ring_layout.h"

#include "core/errors.h"

namespace dilbench {
namespace distributed {

const char* layoutName(Layout l) { return l == Layout::Plain ? "plain" : "zigzag"; }

Layout parseLayout(const std::string& s) {
  if (s == "plain") return Layout::Plain;
  if (s == "zigzag") return Layout::Zigzag;
  throwInvalid("layouts", "layout '" + s + "' is not one of: plain, zigzag");
}

std::vector<RowRange> rankChunks(int64_t seqLen, int64_t ranks, Layout layout, int64_t rank) {
  // The simulated ring's chunking (family_common.cpp), so both compute the same blocks.
  return ringRankChunks(seqLen, ranks, layout == Layout::Zigzag, rank);
}

int64_t totalRows(const std::vector<RowRange>& chunks) {
  int64_t n = 0;
  for (const auto& c : chunks) n += c.size();
  return n;
}

BlockKind blockKind(const RowRange& q, const RowRange& kv, bool causal) {
  if (q.size() <= 0 || kv.size() <= 0) return BlockKind::Skip;
  if (!causal) return BlockKind::Full;
  if (kv.begin > q.end - 1) return BlockKind::Skip;
  if (kv.end - 1 <= q.begin) return BlockKind::Full;
  return BlockKind::Masked;
}

}  // namespace distributed
}  // namespace dilbench
