#include "reference_family.h"

#include <cmath>
#include <functional>
#include <limits>

#include "../core/errors.h"
#include "../cpu/family.h"

namespace dilbench {
namespace {

void checkCancel(const CancelToken* c) {
  if (c && c->cancelled()) throw Error(ErrorCode::Cancelled, "reference cancelled");
}

// Attention of query row qi over the key rows `keys` of one head, float64: writes out[D] and
// returns lse (-inf and zeros when keys is empty).
double attendRow(const float* qRow, const float* kHead, const float* vHead, const std::vector<int64_t>& keys,
                 int64_t D, double scale, double* out, std::vector<double>& s) {
  for (int64_t d = 0; d < D; ++d) out[d] = 0;
  if (keys.empty()) return -std::numeric_limits<double>::infinity();
  s.resize(keys.size());
  double m = -std::numeric_limits<double>::infinity();
  for (size_t j = 0; j < keys.size(); ++j) {
    const float* kr = kHead + keys[j] * D;
    double dot = 0;
    for (int64_t d = 0; d < D; ++d) dot += double(qRow[d]) * double(kr[d]);
    s[j] = scale * dot;
    m = std::max(m, s[j]);
  }
  double sum = 0;
  for (size_t j = 0; j < keys.size(); ++j) {
    s[j] = std::exp(s[j] - m);
    sum += s[j];
  }
  for (size_t j = 0; j < keys.size(); ++j) {
    const float* vr = vHead + keys[j] * D;
    const double w = s[j] / sum;
    for (int64_t d = 0; d < D; ++d) out[d] += w * double(vr[d]);
  }
  return m + std::log(sum);
}

// Dense attention where row i attends {j : allowed(i, j)}; rows before firstRow are 0 unvisited
// (a long kv-cache prompt with prefill "skip" would otherwise cost L^2 mask calls).
std::vector<double> maskedDense(const AttentionProblem& p, const float* q, const float* k, const float* v,
                                const CancelToken* cancel,
                                const std::function<bool(int64_t, int64_t)>& allowed, int64_t firstRow = 0) {
  const int64_t L = p.seqLen, D = p.headDim, G = p.groupSize();
  const double scale = p.resolvedScale();
  std::vector<double> o(size_t(p.qElements()), 0.0);
  std::vector<double> s;
  std::vector<int64_t> keys;
  for (int64_t b = 0; b < p.batch; ++b) {
    for (int64_t h = 0; h < p.heads; ++h) {
      checkCancel(cancel);
      const int64_t bh = b * p.heads + h, kvh = b * p.kvHeads + h / G;
      for (int64_t i = firstRow; i < L; ++i) {  // rows before firstRow attend nothing: 0
        keys.clear();
        for (int64_t j = 0; j < L; ++j) {
          if (allowed(i, j)) keys.push_back(j);
        }
        attendRow(q + (bh * L + i) * D, k + kvh * L * D, v + kvh * L * D, keys, D, scale,
                  o.data() + (bh * L + i) * D, s);
      }
    }
  }
  return o;
}

// Dilated attention of one head for pairs/offsets `parts`, mixed with alpha = softmax(lse).
void dilatedHeadRef(const AttentionProblem& p, const float* qHead, const float* kHead, const float* vHead,
                    const std::vector<std::pair<DilatedPair, int64_t>>& parts, double* oHead) {
  const int64_t L = p.seqLen, D = p.headDim;
  const double scale = p.resolvedScale();
  const double ninf = -std::numeric_limits<double>::infinity();
  const size_t n = parts.size();
  std::vector<std::vector<double>> oi(n, std::vector<double>(size_t(L * D), 0.0));
  std::vector<std::vector<double>> lsei(n, std::vector<double>(size_t(L), ninf));
  std::vector<double> s;
  for (size_t i = 0; i < n; ++i) {
    const int64_t w = parts[i].first.w, r = parts[i].first.r, off = parts[i].second;
    for (int64_t segStart = 0; segStart < L; segStart += w) {
      const int64_t segEnd = std::min(segStart + w, L);
      std::vector<int64_t> sel;
      for (int64_t pos = segStart + off; pos < segEnd; pos += r) sel.push_back(pos);
      for (int64_t qp : sel) {
        std::vector<int64_t> keys;
        for (int64_t kp : sel) {
          if (!p.causal || kp <= qp) keys.push_back(kp);
        }
        lsei[i][qp] = attendRow(qHead + qp * D, kHead, vHead, keys, D, scale, oi[i].data() + qp * D, s);
      }
    }
  }
  for (int64_t pos = 0; pos < L; ++pos) {
    double m = ninf;
    for (size_t i = 0; i < n; ++i) m = std::max(m, lsei[i][pos]);
    for (int64_t d = 0; d < D; ++d) oHead[pos * D + d] = 0;
    if (m == ninf) continue;
    double z = 0;
    for (size_t i = 0; i < n; ++i) z += std::exp(lsei[i][pos] - m);
    for (size_t i = 0; i < n; ++i) {
      if (lsei[i][pos] == ninf) continue;
      const double alpha = std::exp(lsei[i][pos] - m) / z;
      for (int64_t d = 0; d < D; ++d) oHead[pos * D + d] += alpha * oi[i][pos * D + d];
    }
  }
}

std::vector<double> dilatedFamilyRef(
    const AttentionProblem& p, const float* q, const float* k, const float* v, const CancelToken* cancel,
    const std::function<std::vector<std::pair<DilatedPair, int64_t>>(int64_t)>& partsOf) {
  const int64_t L = p.seqLen, D = p.headDim, G = p.groupSize();
  std::vector<double> o(size_t(p.qElements()), 0.0);
  for (int64_t b = 0; b < p.batch; ++b) {
    for (int64_t h = 0; h < p.heads; ++h) {
      checkCancel(cancel);
      const int64_t bh = b * p.heads + h, kvh = b * p.kvHeads + h / G;
      dilatedHeadRef(p, q + bh * L * D, k + kvh * L * D, v + kvh * L * D, partsOf(h), o.data() + bh * L * D);
    }
  }
  return o;
}

}  // namespace

std::vector<double> referenceDense(const AttentionProblem& p, const float* q, const float* k, const float* v,
                                   const CancelToken* cancel) {
  const bool causal = p.causal;
  return maskedDense(p, q, k, v, cancel, [causal](int64_t i, int64_t j) { return !causal || j <= i; });
}

std::vector<double> referenceKvCache(const AttentionProblem& p, const float* q, const float* k,
                                     const float* v, const CancelToken* cancel) {
  const KvCacheSplit sp = resolveKvCache(p);
  const int64_t prompt = sp.promptLen;
  const bool causal = p.causal;
  if (!sp.attendPrompt) {  // prefill "skip": the prompt's rows are 0, each decoded row causal
    return maskedDense(
        p, q, k, v, cancel, [=](int64_t i, int64_t j) { return i >= prompt && j <= i; }, prompt);
  }
  return maskedDense(p, q, k, v, cancel, [=](int64_t i, int64_t j) {
    if (!causal && i < prompt) return j < prompt;
    return j <= i;
  });
}

std::vector<double> referenceDilated(const AttentionProblem& p, const float* q, const float* k,
                                     const float* v, const CancelToken* cancel) {
  const auto pairs = resolveDilatedPairs(p);
  return dilatedFamilyRef(p, q, k, v, cancel, [&](int64_t h) {
    std::vector<std::pair<DilatedPair, int64_t>> parts;
    for (const auto& pr : pairs) parts.push_back({pr, h % pr.r});
    return parts;
  });
}

std::vector<double> referenceDilatedGrouped(const AttentionProblem& p, const float* q, const float* k,
                                            const float* v, const CancelToken* cancel) {
  const auto pairs = resolveDilatedPairs(p);
  const int64_t nGroups = static_cast<int64_t>(pairs.size());
  // Group sizes: heads / k each, the first heads % k groups one more; contiguous.
  std::vector<int64_t> groupOf;
  for (int64_t g = 0; g < nGroups; ++g) {
    const int64_t size = p.heads / nGroups + (g < p.heads % nGroups ? 1 : 0);
    for (int64_t i = 0; i < size; ++i) groupOf.push_back(g);
  }
  return dilatedFamilyRef(p, q, k, v, cancel, [&](int64_t h) {
    const int64_t g = groupOf[size_t(h)];
    return std::vector<std::pair<DilatedPair, int64_t>>{{pairs[g], g % pairs[g].r}};
  });
}

std::vector<double> referenceBlockSparse(const AttentionProblem& p, const float* q, const float* k,
                                         const float* v, const CancelToken* cancel) {
  validateBlockSparse(p);
  const int64_t bs = p.blockSize;
  const bool causal = p.causal;
  return maskedDense(p, q, k, v, cancel, [&](int64_t i, int64_t j) {
    if (causal && j > i) return false;
    return blockSparseAllowed(p, i / bs, j / bs);
  });
}

bool hasFamilyReference(const std::string& n) {
  return n == "kv-cache" || n == "kv-cache-recompute" || n == "dilated" || n == "dilated-grouped" ||
         n == "ring" || n == "ring-dilated" || n == "block-sparse";
}

std::vector<double> referenceFamily(const AttentionProblem& p, const float* q, const float* k, const float* v,
                                    const CancelToken* cancel) {
  const std::string& n = p.implementation;
  if (n == "kv-cache" || n == "kv-cache-recompute") return referenceKvCache(p, q, k, v, cancel);
  if (n == "dilated" || n == "ring-dilated") return referenceDilated(p, q, k, v, cancel);
  if (n == "dilated-grouped") return referenceDilatedGrouped(p, q, k, v, cancel);
  if (n == "ring") return referenceDense(p, q, k, v, cancel);
  if (n == "block-sparse") return referenceBlockSparse(p, q, k, v, cancel);
  throw Error(ErrorCode::Unsupported, "no family reference for implementation '" + n + "'", "implementation");
}

}  // namespace dilbench
