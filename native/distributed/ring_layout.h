// Chunk layouts of a real (multi-process) ring: which sequence rows each rank holds, and the
// shape of the key/value message a rank forwards. Pure C++, no MPI, so it is testable alone.
// Layouts (attention-definitions.md, "ring"):
//   plain:  P contiguous chunks, rank p holds [p*L/P, (p+1)*L/P)
//   zigzag: 2P chunks of L/(2P) rows, rank p holds chunks p and 2P-1-p (causal load balance)
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "cpu/family.h"

namespace dilbench {
namespace distributed {

enum class Layout { Plain, Zigzag };
const char* layoutName(Layout l);
// "plain" | "zigzag"; throws Error(InvalidConfig, field "layouts") otherwise.
Layout parseLayout(const std::string& s);

// The rank's chunks, ascending by position (1 for plain, 2 for zigzag; may be empty).
std::vector<RowRange> rankChunks(int64_t seqLen, int64_t ranks, Layout layout, int64_t rank);
int64_t totalRows(const std::vector<RowRange>& chunks);

// What a query chunk needs from a key/value chunk under the mask.
enum class BlockKind { Skip, Full, Masked };
// Non-causal: Full. Causal: Skip when every key is after every query, Full when every key is at
// or before the first query, else Masked (the block straddles the diagonal).
BlockKind blockKind(const RowRange& q, const RowRange& kv, bool causal);

// Floats of a key/value message carrying `rows` rows: K then V, each [batch*kvHeads, rows, D].
inline int64_t kvMessageFloats(int64_t batch, int64_t kvHeads, int64_t rows, int64_t headDim) {
  return 2 * batch * kvHeads * rows * headDim;
}

}  // namespace distributed
}  // namespace dilbench
