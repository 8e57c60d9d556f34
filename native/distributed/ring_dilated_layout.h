// What travels in a real ring-dilated run (attention-definitions.md, "ring-dilated"): the
// sequence is split into P contiguous chunks (plain layout, as the simulated ring-dilated does:
// dilated segments are local structure, so no zigzag). A segment that lies inside one rank is
// computed there and nothing of it travels; for a segment spanning several ranks, each rank
// forwards the sparsified keys and values of it that it holds: the selected positions
// (segment start + head offset + t * r) inside its chunk, per kv head, pair and head offset its
// query heads use. Pure C++, no MPI.
#pragma once
#include <cstdint>
#include <map>
#include <tuple>
#include <vector>

#include "cpu/family.h"

namespace dilbench {
namespace distributed {

// Selected positions of one (pair w, r; head offset; segment s) inside [cb, ce): first, first + r,
// ... (count of them). count 0 when none.
struct Selection {
  int64_t first = 0;
  int64_t count = 0;
};
Selection selectedIn(const DilatedPair& pair, int64_t offset, int64_t segment, int64_t seqLen, int64_t cb,
                     int64_t ce);

// Rank whose plain chunk holds `pos` (chunks: every rank's single chunk, ascending, non-empty).
int64_t rankOfPosition(const std::vector<RowRange>& chunks, int64_t pos);
// Whether segment s of a pair of length w lies in more than one rank's chunk.
bool segmentSpansRanks(const std::vector<RowRange>& chunks, int64_t w, int64_t segment, int64_t seqLen);

// One run of message rows: the selected rows of (kv head of batch b: b * kvHeads + kvh, pair,
// offset, segment) inside the sender's chunk, at rows [msgRow, msgRow + sel.count) of the K part
// (and of the V part).
struct DilatedPiece {
  int64_t kvHead = 0;
  int64_t pair = 0;
  int64_t offset = 0;
  int64_t segment = 0;
  Selection sel;
  int64_t msgRow = 0;
};

// The message rank `src` forwards: K rows of every piece, then V rows in the same order, each
// row headDim floats. Every rank computes the same layout for any sender, so a message needs no
// header.
struct DilatedMessage {
  std::vector<DilatedPiece> pieces;  // by kvHead, pair, offset, segment
  int64_t rows = 0;
  // The piece of (kvHead, pair, offset, segment), or null when that segment sends nothing.
  const DilatedPiece* find(int64_t kvHead, int64_t pair, int64_t offset, int64_t segment) const;
  int64_t floats(int64_t headDim) const { return 2 * rows * headDim; }

 private:
  friend DilatedMessage dilatedMessage(const std::vector<RowRange>&, int64_t, const std::vector<DilatedPair>&,
                                       int64_t, int64_t, int64_t, int64_t);
  std::map<std::tuple<int64_t, int64_t, int64_t, int64_t>, size_t> index_;
};

// chunks: every rank's plain chunk. Offsets per (kv head, pair): the distinct h mod r of the
// query heads h reading that kv head (grouped-query: heads / kvHeads of them).
DilatedMessage dilatedMessage(const std::vector<RowRange>& chunks, int64_t src,
                              const std::vector<DilatedPair>& pairs, int64_t batch, int64_t heads,
                              int64_t kvHeads, int64_t seqLen);

}  // namespace distributed
}  // namespace dilbench
