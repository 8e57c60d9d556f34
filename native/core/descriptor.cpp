#include "descriptor.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>

#include "errors.h"

namespace dilbench {

namespace {
constexpr double kMaxInt = double(int64_t(1) << 30);

std::vector<ParamSpec> makeParamSpecs() {
  const double maxList = 16;
  (void)maxList;
  return {
      {"segmentLengths",
       ParamType::IntList,
       1,
       kMaxInt,
       false,
       "by length: <= 8K 1K,2K,4K; <= 64K 2K,8K,32K; <= 512K 8K,64K,256K; larger 64K,256K,512K",
       {},
       "dilated: segment lengths (K = 1024), with --dilation-rates; pairs with w > seqLen shrink to seqLen"},
      {"dilationRates",
       ParamType::IntList,
       1,
       kMaxInt,
       false,
       "1,2,4 (<= 64K), 1,4,16 (longer)",
       {},
       "dilated: one dilation rate per segment length"},
      {"ringSize",
       ParamType::Int,
       1,
       double(1 << 20),
       false,
       "1",
       {},
       "ring / ring-dilated: simulated ranks P (at most seqLen)"},
      {"blockPattern",
       ParamType::Enum,
       0,
       0,
       false,
       "local",
       {"local", "strided", "dilated", "random"},
       "block-sparse: local|strided|dilated|random"},
      {"blockSize",
       ParamType::Int,
       1,
       double(1 << 16),
       false,
       "64",
       {},
       "block-sparse: block size in tokens"},
      {"window",
       ParamType::Int,
       1,
       kMaxInt,
       false,
       "4",
       {},
       "block-sparse local/dilated pattern: window in blocks (the query's own block included)"},
      {"stride",
       ParamType::Int,
       1,
       kMaxInt,
       false,
       "4",
       {},
       "block-sparse strided/dilated pattern: stride in blocks"},
      {"density",
       ParamType::Number,
       0,
       1,
       true,
       "0.1",
       {},
       "block-sparse random pattern: fraction of blocks"},
      {"promptLen",
       ParamType::Int,
       1,
       kMaxInt,
       false,
       "seqLen - newTokens",
       {},
       "kv-cache: prompt tokens (promptLen + newTokens = seqLen; at most seqLen)"},
      {"newTokens",
       ParamType::Int,
       0,
       kMaxInt,
       false,
       "min(seqLen - 1, 32)",
       {},
       "kv-cache: decode steps (0 with no promptLen: the default)"},
      {"prefill",
       ParamType::Enum,
       0,
       0,
       false,
       "attend",
       {"attend", "skip"},
       "kv-cache: attend (the prompt's rows are computed) or skip (the prompt only fills the cache, its "
       "output rows are 0: times decoding at a deep context without the quadratic prefill)"},
  };
}

std::string num(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  return std::to_string(v);
}

struct DescriptorState {
  mutable std::mutex mutex;
  std::map<std::string, ImplementationDescriptor> byName;
};
DescriptorState& state() {
  static DescriptorState s;  // function-local: safe from other files' static initialisers
  return s;
}
}  // namespace

const char* paramTypeName(ParamType t) {
  switch (t) {
    case ParamType::Int: return "int";
    case ParamType::Number: return "number";
    case ParamType::Enum: return "enum";
    case ParamType::IntList: return "int-list";
  }
  return "int";
}

const char* exactDenseName(ExactDense e) {
  switch (e) {
    case ExactDense::Always: return "always";
    case ExactDense::WhenCausal: return "when-causal";
    case ExactDense::Never: return "never";
  }
  return "never";
}

const std::vector<ParamSpec>& paramSpecs() {
  static const std::vector<ParamSpec> specs = makeParamSpecs();
  return specs;
}

const ParamSpec& paramSpec(const std::string& name) {
  for (const auto& s : paramSpecs()) {
    if (s.name == name) return s;
  }
  throw Error(ErrorCode::Internal, "no parameter spec named '" + name + "'");
}

std::string paramAllowed(const ParamSpec& s) {
  switch (s.type) {
    case ParamType::Enum: {
      std::string out;
      for (const auto& c : s.choices) out += (out.empty() ? "" : ", ") + c;
      return out;
    }
    case ParamType::Number:
      return "a number in " + std::string(s.minExclusive ? "(" : "[") + num(s.min) + ", " + num(s.max) + "]";
    case ParamType::IntList: return "one or more integers >= " + num(s.min);
    case ParamType::Int: break;
  }
  return "an integer in " + num(s.min) + ".." + num(s.max);
}

void checkIntParam(const std::string& name, int64_t v) {
  const ParamSpec& s = paramSpec(name);
  if (double(v) < s.min || double(v) > s.max) {
    throwInvalid(name, "must be " + paramAllowed(s) + ", got " + std::to_string(v));
  }
}

const std::vector<FunctionSpec>& functionSpecs() {
  static const std::vector<FunctionSpec> f = {
      {"dense", "naive", ExactDense::Always},
      {"kv-cache", "kv-cache", ExactDense::WhenCausal},
      {"dilated", "dilated", ExactDense::Never},
      {"dilated-grouped", "dilated-grouped", ExactDense::Never},
      {"block-sparse", "block-sparse", ExactDense::Never},
  };
  return f;
}

const FunctionSpec* findFunction(const std::string& name) {
  for (const auto& f : functionSpecs()) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

DescriptorRegistry& DescriptorRegistry::instance() {
  static DescriptorRegistry r;
  return r;
}

void DescriptorRegistry::add(ImplementationDescriptor d) {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.byName.find(d.name);
  if (it != s.byName.end()) {
    const ImplementationDescriptor& old = it->second;
    throwInvalid("plugin", "duplicate implementation name '" + d.name + "': already declared by " +
                               (old.origin == "plugin" ? "plugin " + old.pluginPath
                                                       : std::string("dilbench (built-in)")));
  }
  if (d.countsSource.empty()) d.countsSource = d.origin == "built-in" ? "kernel" : "none";
  s.byName.emplace(d.name, std::move(d));
}

void DescriptorRegistry::remove(const std::string& name) {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.byName.erase(name);
}

const ImplementationDescriptor* DescriptorRegistry::find(const std::string& name) const {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.byName.find(name);
  return it == s.byName.end() ? nullptr : &it->second;  // entries are never moved once added
}

std::vector<ImplementationDescriptor> DescriptorRegistry::list() const {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  std::vector<ImplementationDescriptor> out;
  for (const auto& [name, d] : s.byName) out.push_back(d);
  return out;
}

std::string functionOf(const std::string& implementation) {
  const auto* d = DescriptorRegistry::instance().find(implementation);
  return d ? d->function : std::string();
}

}  // namespace dilbench
