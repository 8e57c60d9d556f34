#include "kernel.h"

#include <algorithm>
#include <mutex>
#include <set>

#include "errors.h"

namespace dilbench {

namespace {
struct Entry {
  std::string name;
  Device device;
  KernelRegistry::Factory factory;
};

struct RegistryState {
  std::mutex mutex;
  std::vector<Entry> entries;
};

RegistryState& state() {
  static RegistryState s;  // function-local: safe from other files' static initialisers
  return s;
}
}  // namespace

KernelRegistry& KernelRegistry::instance() {
  static KernelRegistry registry;
  return registry;
}

void KernelRegistry::add(const std::string& name, Device device, Factory factory) {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  for (auto& e : s.entries) {
    if (e.name == name && e.device == device) {
      e.factory = std::move(factory);  // last registration wins
      return;
    }
  }
  s.entries.push_back(Entry{name, device, std::move(factory)});
}

std::unique_ptr<Kernel> KernelRegistry::create(const std::string& name, Device device) const {
  Factory factory;
  std::set<std::string> known;
  std::vector<std::string> devicesWithName;
  {
    auto& s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    for (const auto& e : s.entries) {
      known.insert(e.name);
      if (e.name == name) {
        if (e.device == device) factory = e.factory;
        devicesWithName.push_back(deviceName(e.device));
      }
    }
  }
  if (!factory) {
    if (devicesWithName.empty()) {
      std::string list;
      for (const auto& n : known) list += (list.empty() ? "" : ", ") + n;
      throwInvalid("implementation", "unknown implementation '" + name + "'; known: " +
                                         (list.empty() ? std::string("(none registered)") : list));
    }
    std::string devs;
    for (const auto& d : devicesWithName) devs += (devs.empty() ? "" : ", ") + d;
    throw Error(ErrorCode::Unsupported,
                "implementation '" + name + "' is not available on device '" + deviceName(device) +
                    "' in this build (available on: " + devs + ")",
                "device");
  }
  auto kernel = factory();
  if (!kernel) throw Error(ErrorCode::Internal, "kernel factory for '" + name + "' returned null");
  return kernel;
}

std::vector<KernelInfo> KernelRegistry::list() const {
  std::vector<std::pair<std::string, Device>> keys;
  std::vector<Factory> factories;
  {
    auto& s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    for (const auto& e : s.entries) {
      keys.emplace_back(e.name, e.device);
      factories.push_back(e.factory);
    }
  }
  std::vector<KernelInfo> out;
  for (size_t i = 0; i < keys.size(); ++i) {
    auto k = factories[i]();
    if (!k) continue;
    out.push_back(KernelInfo{keys[i].first, keys[i].second, k->dtypes(), k->description()});
  }
  std::sort(out.begin(), out.end(), [](const KernelInfo& a, const KernelInfo& b) {
    if (a.name != b.name) return a.name < b.name;
    return static_cast<int>(a.device) < static_cast<int>(b.device);
  });
  return out;
}

}  // namespace dilbench
