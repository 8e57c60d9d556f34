#include "ring_dilated_layout.h"

#include <algorithm>
#include <set>

namespace dilbench {
namespace distributed {

Selection selectedIn(const DilatedPair& pair, int64_t offset, int64_t segment, int64_t seqLen, int64_t cb,
                     int64_t ce) {
  const int64_t sb = segment * pair.w, se = std::min(seqLen, (segment + 1) * pair.w);
  const int64_t lo = std::max(cb, sb + offset), hi = std::min(ce, se);
  Selection s;
  if (hi <= lo) return s;
  // first = sb + offset + t*r >= lo
  const int64_t t0 = (lo - (sb + offset) + pair.r - 1) / pair.r;
  s.first = sb + offset + t0 * pair.r;
  if (s.first >= hi) return s;
  s.count = (hi - 1 - s.first) / pair.r + 1;
  return s;
}

int64_t rankOfPosition(const std::vector<RowRange>& chunks, int64_t pos) {
  auto it = std::upper_bound(chunks.begin(), chunks.end(), pos,
                             [](int64_t p, const RowRange& c) { return p < c.begin; });
  return int64_t(it - chunks.begin()) - 1;
}

bool segmentSpansRanks(const std::vector<RowRange>& chunks, int64_t w, int64_t segment, int64_t seqLen) {
  const int64_t sb = segment * w, se = std::min(seqLen, (segment + 1) * w);
  return rankOfPosition(chunks, sb) != rankOfPosition(chunks, se - 1);
}

const DilatedPiece* DilatedMessage::find(int64_t kvHead, int64_t pair, int64_t offset,
                                         int64_t segment) const {
  auto it = index_.find({kvHead, pair, offset, segment});
  return it == index_.end() ? nullptr : &pieces[it->second];
}

DilatedMessage dilatedMessage(const std::vector<RowRange>& chunks, int64_t src,
                              const std::vector<DilatedPair>& pairs, int64_t batch, int64_t heads,
                              int64_t kvHeads, int64_t seqLen) {
  DilatedMessage m;
  const RowRange c = chunks[size_t(src)];
  const int64_t G = heads / kvHeads;
  if (c.size() <= 0) return m;
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t kvh = 0; kvh < kvHeads; ++kvh) {
      for (size_t i = 0; i < pairs.size(); ++i) {
        const DilatedPair& pr = pairs[i];
        std::set<int64_t> offsets;
        for (int64_t h = kvh * G; h < (kvh + 1) * G; ++h) offsets.insert(h % pr.r);
        for (int64_t off : offsets) {
          for (int64_t s = c.begin / pr.w; s <= (c.end - 1) / pr.w; ++s) {
            if (!segmentSpansRanks(chunks, pr.w, s, seqLen)) continue;  // local: nothing travels
            const Selection sel = selectedIn(pr, off, s, seqLen, c.begin, c.end);
            if (sel.count == 0) continue;
            m.index_[{b * kvHeads + kvh, int64_t(i), off, s}] = m.pieces.size();
            m.pieces.push_back({b * kvHeads + kvh, int64_t(i), off, s, sel, m.rows});
            m.rows += sel.count;
          }
        }
      }
    }
  }
  return m;
}

}  // namespace distributed
}  // namespace dilbench
