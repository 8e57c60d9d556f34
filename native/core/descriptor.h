// One descriptor per implementation, declared once next to its kernel (DILBENCH_DESCRIBE_IMPLEMENTATION)
// and read everywhere else through the binding's listImplementations(): the function it computes
// (as docs/attention-definitions.md names them), whether that is exact dense attention,
// its parameters, its validation partner and its telemetry keys. Plugins add descriptors at load.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "problem.h"

namespace dilbench {

enum class ParamType { Int, Number, Enum, IntList };
const char* paramTypeName(ParamType);  // "int" | "number" | "enum" | "int-list"

// One implementation parameter: an AttentionProblem field, named like the CLI flag (camelCase).
// Bounds are inclusive except where `minExclusive` (density > 0).
struct ParamSpec {
  std::string name;
  ParamType type = ParamType::Int;
  double min = 0;
  double max = 0;
  bool minExclusive = false;
  std::string defaultText;           // in words: "64", "by length (see the definitions doc)"
  std::vector<std::string> choices;  // Enum only
  std::string help;
};
// Every parameter an implementation may declare, in one table (native/core/descriptor.cpp).
const std::vector<ParamSpec>& paramSpecs();
const ParamSpec& paramSpec(const std::string& name);  // Error(Internal) when unknown
// Throws Error(InvalidConfig, field = spec name) when v is outside the spec's bounds; the message
// says what is allowed, in the same words the TypeScript layer uses.
void checkIntParam(const std::string& name, int64_t v);
std::string paramAllowed(const ParamSpec& s);

// Whether an implementation computes exact dense attention (softmax(qk^T * scale) v over every
// allowed key): only such rows are ranked against each other. kv-cache without a causal mask is
// prefix-LM attention, hence WhenCausal.
enum class ExactDense { Always, WhenCausal, Never };
const char* exactDenseName(ExactDense);  // "always" | "when-causal" | "never"

// The functions dilbench has a float64 reference and exact counts for, and the built-in whose
// reference, counts and parameter checks define each one. "" for a plugin means: unknown function.
struct FunctionSpec {
  std::string name;       // "dense", "kv-cache", "dilated", "dilated-grouped", "block-sparse"
  std::string definedBy;  // built-in implementation name
  ExactDense exactDense;
};
const std::vector<FunctionSpec>& functionSpecs();
const FunctionSpec* findFunction(const std::string& name);

struct ImplementationDescriptor {
  std::string name;
  std::string function;  // a FunctionSpec name, or "" when unknown (plugins only)
  ExactDense exactDense = ExactDense::Never;
  std::string partner;                 // validated implementation of the same function, or ""
  std::vector<std::string> params;     // ParamSpec names it reads
  std::vector<std::string> telemetry;  // KernelTelemetry keys it fills
  std::string origin = "built-in";     // "built-in" | "plugin"
  // plugins: the library path and its ABI version (the content hash is taken by the TypeScript
  // layer); every implementation: where its flop/byte counts come from
  std::string pluginPath;
  std::string pluginAbi;
  std::string countsSource;  // "kernel" (built-ins), "plugin", "function:<name>", "none"
};

class DescriptorRegistry {
 public:
  static DescriptorRegistry& instance();
  // Error(InvalidConfig, field "plugin") when the name is already taken (a plugin may not
  // shadow a built-in or another plugin).
  void add(ImplementationDescriptor d);
  void remove(const std::string& name);
  // nullptr when unknown
  const ImplementationDescriptor* find(const std::string& name) const;
  std::vector<ImplementationDescriptor> list() const;
};

// The function an implementation computes ("" when unknown or not registered).
std::string functionOf(const std::string& implementation);

#define DILBENCH_DESCRIBE_CAT2(a, b) a##b
#define DILBENCH_DESCRIBE_CAT(a, b) DILBENCH_DESCRIBE_CAT2(a, b)
// What a built-in declares beside its kernel (every field given, so no compiler warns about a
// missing initializer); the registry fills origin, plugin and counts fields.
struct BuiltInDescription {
  std::string name;
  std::string function;
  ExactDense exactDense;
  std::string partner;
  std::vector<std::string> params;
  std::vector<std::string> telemetry;
};

inline ImplementationDescriptor describeBuiltIn(BuiltInDescription b) {
  ImplementationDescriptor d;
  d.name = std::move(b.name);
  d.function = std::move(b.function);
  d.exactDense = b.exactDense;
  d.partner = std::move(b.partner);
  d.params = std::move(b.params);
  d.telemetry = std::move(b.telemetry);
  return d;
}

// Static registration beside the kernel: DILBENCH_DESCRIBE_IMPLEMENTATION({"flash", "dense", ...})
#define DILBENCH_DESCRIBE_IMPLEMENTATION(...)                                     \
  namespace {                                                                     \
  const bool DILBENCH_DESCRIBE_CAT(described_, __LINE__) = [] {                   \
    ::dilbench::DescriptorRegistry::instance().add(                               \
        ::dilbench::describeBuiltIn(::dilbench::BuiltInDescription __VA_ARGS__)); \
    return true;                                                                  \
  }();                                                                            \
  }

}  // namespace dilbench
