#include "plugin.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <mutex>

#include "../../include/dilbench_plugin.h"
#include "../cpu/family.h"
#include "descriptor.h"
#include "errors.h"
#include "kernel.h"

namespace dilbench {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throwInvalid("plugin", "'" + path + "': " + what);
}

// A library handle kept for the life of the process (kernels point into it).
struct Library {
  std::string path;
  void* handle = nullptr;
  const dilbench_plugin* table = nullptr;
};

// The problem as the plugin sees it; owns the arrays its pointers refer to.
struct PluginProblem {
  dilbench_problem c{};
  std::vector<int64_t> segments, rates;
  std::string pattern;
};

void fillPluginProblem(const AttentionProblem& p, const std::string& function, PluginProblem& out) {
  std::memset(&out.c, 0, sizeof out.c);
  dilbench_problem& c = out.c;
  c.struct_size = sizeof(dilbench_problem);
  c.batch = p.batch;
  c.heads = p.heads;
  c.kv_heads = p.kvHeads;
  c.seq_len = p.seqLen;
  c.head_dim = p.headDim;
  c.causal = p.causal ? 1 : 0;
  c.dtype = p.dtype == DType::F32 ? DILBENCH_FP32 : p.dtype == DType::F16 ? DILBENCH_FP16 : DILBENCH_BF16;
  c.scale = p.resolvedScale();
  // resolved as the built-ins resolve them (defaults by length, shrinking, the kv-cache split);
  // only for the functions that read them, whose parameters validate() has checked
  if (function == "dilated" || function == "dilated-grouped") {
    for (const auto& pr : resolveDilatedPairs(p)) {
      out.segments.push_back(pr.w);
      out.rates.push_back(pr.r);
    }
  }
  c.num_segments = static_cast<int64_t>(out.segments.size());
  c.segment_lengths = out.segments.data();
  c.dilation_rates = out.rates.data();
  if (function == "kv-cache") {
    const KvCacheSplit split = resolveKvCache(p);
    c.prompt_len = split.promptLen;
    c.new_tokens = split.newTokens;
  }
  out.pattern = p.blockPattern;
  c.block_pattern = out.pattern.c_str();
  c.block_size = p.blockSize;
  c.window = p.window;
  c.stride = p.stride;
  c.density = p.density;
  c.seed = p.seed;
}

class PluginKernel final : public Kernel {
 public:
  PluginKernel(std::shared_ptr<Library> lib, const dilbench_kernel* k, Device device,
               std::vector<DType> dtypes, std::string function)
      : lib_(std::move(lib)),
        k_(k),
        device_(device),
        dtypes_(std::move(dtypes)),
        function_(std::move(function)) {}

  std::string name() const override { return k_->name; }
  Device device() const override { return device_; }
  std::vector<DType> dtypes() const override { return dtypes_; }
  std::string description() const override {
    return std::string(k_->description ? k_->description : "plugin kernel") + " (plugin " + lib_->path + ")";
  }
  // The declared function's own parameter checks (and its resolved dilated pairs / kv split).
  void validate(const AttentionProblem& p) const override {
    if (auto def = defining(p)) def->validate(definingProblem(p));
    // the plugin ABI has no prefill field: a plugin's kv-cache always attends its prompt
    if (p.prefill != "attend")
      throwInvalid("prefill",
                   "plugin kernels attend the prompt ('attend'); 'skip' is for the built-in "
                   "kv-cache and kv-cache-recompute");
  }
  int64_t effectiveSeqLen(const AttentionProblem& p) const override {
    auto def = defining(p);
    return def ? def->effectiveSeqLen(definingProblem(p)) : p.seqLen;
  }
  uint64_t workspaceBytes(const AttentionProblem& p, int threads) const override {
    (void)threads;
    if (!k_->workspace_bytes) return 0;
    PluginProblem pp;
    fillPluginProblem(p, function_, pp);
    return k_->workspace_bytes(k_->user, &pp.c);
  }
  KernelCounts counts(const AttentionProblem& p) const override {
    KernelCounts c;
    if (k_->counts) {
      PluginProblem pp;
      fillPluginProblem(p, function_, pp);
      dilbench_counts pc{};
      pc.struct_size = sizeof pc;
      if (k_->counts(k_->user, &pp.c, &pc) == 0) {
        c.flops = pc.flops;
        c.bytesMoved = pc.bytes_moved;
        return c;
      }
    }
    if (auto def = defining(p)) return def->counts(definingProblem(p));
    return c;  // unknown function, no counts of its own: 0 (rows say countsSource "none")
  }
  void run(const AttentionProblem& p, const Tensors& t, ExecContext& ctx) override {
    PluginProblem pp;
    fillPluginProblem(p, function_, pp);
    const uint64_t wsBytes = workspaceBytes(p, ctx.threads);
    void* ws = wsBytes ? ctx.pool->allocate(static_cast<size_t>(wsBytes)) : nullptr;
    struct Release {
      MemoryPool* pool;
      void* ptr;
      ~Release() {
        if (ptr) pool->deallocate(ptr);
      }
    } release{ctx.pool, ws};
    dilbench_tensors ct{};
    ct.struct_size = sizeof ct;
    ct.q = t.q;
    ct.k = t.k;
    ct.v = t.v;
    ct.o = t.o;
    ct.workspace = ws;
    ct.workspace_bytes = static_cast<size_t>(wsBytes);
    ct.stream = ctx.stream;
    ct.threads = ctx.threads;
    char err[512] = {0};
    const int rc = k_->run(k_->user, &pp.c, &ct, err, sizeof err - 1);
    if (rc != 0) {
      throw Error(ErrorCode::Internal, "plugin kernel '" + std::string(k_->name) + "' (" + lib_->path +
                                           ") failed with code " + std::to_string(rc) +
                                           (err[0] ? ": " + std::string(err) : std::string()));
    }
  }

 private:
  std::unique_ptr<Kernel> defining(const AttentionProblem&) const {
    const FunctionSpec* f = findFunction(function_);
    if (!f) return nullptr;
    return KernelRegistry::instance().create(f->definedBy, Device::CPU);
  }
  AttentionProblem definingProblem(const AttentionProblem& p) const {
    AttentionProblem d = p;
    d.implementation = findFunction(function_)->definedBy;
    d.device = Device::CPU;
    d.dtype = DType::F32;  // the defining kernel's dtype list is not the plugin's
    return d;
  }

  std::shared_ptr<Library> lib_;
  const dilbench_kernel* k_;
  Device device_;
  std::vector<DType> dtypes_;
  std::string function_;
};

struct PluginState {
  std::mutex mutex;
  std::vector<LoadedPlugin> loaded;
};
PluginState& state() {
  static PluginState s;
  return s;
}

constexpr size_t kKernelV1Size = offsetof(dilbench_kernel, destroy) + sizeof(void (*)(void*));
constexpr size_t kPluginV1Size = offsetof(dilbench_plugin, kernels) + sizeof(const dilbench_kernel*);

}  // namespace

LoadedPlugin loadPlugin(const std::string& path) {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  for (const auto& l : s.loaded) {
    if (l.path == path) return l;
  }
  struct stat st{};
  if (path.empty() || ::stat(path.c_str(), &st) != 0) fail(path, "file not found");
  if (!S_ISREG(st.st_mode)) fail(path, "not a regular file");
  void* handle = ::dlopen(path.find('/') == std::string::npos ? ("./" + path).c_str() : path.c_str(),
                          RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* e = ::dlerror();
    fail(path, std::string("not a loadable shared library (dlopen: ") + (e ? e : "unknown error") + ")");
  }
  auto lib = std::make_shared<Library>();
  lib->path = path;
  lib->handle = handle;  // never dlclose'd: registered kernels point into it for the process's life
  ::dlerror();
  auto init = reinterpret_cast<dilbench_plugin_init_fn>(::dlsym(handle, DILBENCH_PLUGIN_ENTRY));
  if (!init) {
    fail(path, std::string("missing entry symbol ") + DILBENCH_PLUGIN_ENTRY +
                   " (export it with DILBENCH_PLUGIN_EXPORT from include/dilbench_plugin.h, extern \"C\")");
  }
  const dilbench_plugin* t = init(DILBENCH_PLUGIN_ABI_MAJOR, DILBENCH_PLUGIN_ABI_MINOR);
  if (!t)
    fail(path, std::string(DILBENCH_PLUGIN_ENTRY) + " returned NULL (the plugin refused to initialise)");
  const std::string abi = std::to_string(t->abi_major) + "." + std::to_string(t->abi_minor);
  const std::string hostAbi =
      std::to_string(DILBENCH_PLUGIN_ABI_MAJOR) + "." + std::to_string(DILBENCH_PLUGIN_ABI_MINOR);
  if (t->abi_major > DILBENCH_PLUGIN_ABI_MAJOR ||
      (t->abi_major == DILBENCH_PLUGIN_ABI_MAJOR && t->abi_minor > DILBENCH_PLUGIN_ABI_MINOR)) {
    fail(path, "plugin ABI " + abi + " is newer than this dilbench's " + hostAbi + "; upgrade dilbench");
  }
  if (t->abi_major < DILBENCH_PLUGIN_ABI_MAJOR) {
    fail(path, "plugin ABI " + abi + " is older than the oldest this dilbench loads (" + hostAbi + ")");
  }
  if (t->struct_size < kPluginV1Size) {
    fail(path, "dilbench_plugin.struct_size " + std::to_string(t->struct_size) + " is smaller than ABI " +
                   abi + "'s " + std::to_string(kPluginV1Size));
  }
  if (t->num_kernels < 1 || !t->kernels) fail(path, "lists no kernels");
  lib->table = t;

  // Check every kernel before registering any, so a bad plugin leaves nothing behind.
  struct Pending {
    const dilbench_kernel* k;
    Device device;
    std::vector<DType> dtypes;
    std::string function;
  };
  std::vector<Pending> pending;
  const char* base = reinterpret_cast<const char*>(t->kernels);
  for (int32_t i = 0; i < t->num_kernels; ++i) {
    // kernels[i] at stride kernels[0].struct_size (the plugin's sizeof), so a newer plugin's
    // longer struct is still walked correctly
    const auto* k = reinterpret_cast<const dilbench_kernel*>(base + size_t(i) * t->kernels[0].struct_size);
    const std::string where = "kernel " + std::to_string(i);
    if (k->struct_size < kKernelV1Size)
      fail(path, where + ": struct_size " + std::to_string(k->struct_size) + " too small");
    if (!k->name || !k->name[0]) fail(path, where + ": no name");
    const std::string name = k->name;
    if (!k->run) fail(path, "kernel '" + name + "': no run function");
    const std::string dev = k->device ? k->device : "";
    if (dev != "cpu" && dev != "cuda")
      fail(path, "kernel '" + name + "': device '" + dev + "' (allowed: cpu, cuda)");
    std::vector<DType> dts;
    if (k->dtypes & DILBENCH_DTYPE_FP32) dts.push_back(DType::F32);
    if (k->dtypes & DILBENCH_DTYPE_FP16) dts.push_back(DType::F16);
    if (k->dtypes & DILBENCH_DTYPE_BF16) dts.push_back(DType::BF16);
    if (dts.empty()) fail(path, "kernel '" + name + "': no dtypes (DILBENCH_DTYPE_FP32 | FP16 | BF16)");
    if (DescriptorRegistry::instance().find(name)) {
      const auto* d = DescriptorRegistry::instance().find(name);
      fail(path,
           "duplicate kernel name '" + name + "': already declared by " +
               (d->origin == "plugin" ? "plugin " + d->pluginPath : std::string("dilbench (built-in)")));
    }
    for (const auto& p : pending) {
      if (p.k->name == name) fail(path, "duplicate kernel name '" + name + "' within the plugin");
    }
    const std::string fn = k->function ? k->function : "";
    pending.push_back({k, dev == "cuda" ? Device::CUDA : Device::CPU, dts, findFunction(fn) ? fn : ""});
  }

  LoadedPlugin out;
  out.path = path;
  out.pluginName = t->plugin_name ? t->plugin_name : "";
  out.abi = abi;
  for (const auto& p : pending) {
    ImplementationDescriptor d;
    d.name = p.k->name;
    d.function = p.function;
    const FunctionSpec* f = findFunction(p.function);
    d.exactDense = f ? f->exactDense : ExactDense::Never;
    if (f) {
      if (const auto* def = DescriptorRegistry::instance().find(f->definedBy)) d.params = def->params;
    }
    d.origin = "plugin";
    d.pluginPath = path;
    d.pluginAbi = abi;
    d.countsSource = p.k->counts ? "plugin" : f ? "function:" + f->name : "none";
    DescriptorRegistry::instance().add(d);
    const dilbench_kernel* kp = p.k;
    const Device dev = p.device;
    const auto dts = p.dtypes;
    const std::string fn = p.function;
    KernelRegistry::instance().add(kp->name, dev, [lib, kp, dev, dts, fn] {
      return std::make_unique<PluginKernel>(lib, kp, dev, dts, fn);
    });
    out.kernels.push_back(kp->name);
  }
  s.loaded.push_back(out);
  return out;
}

std::vector<LoadedPlugin> loadedPlugins() {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.loaded;
}

}  // namespace dilbench
