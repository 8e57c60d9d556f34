// C ABI plugins (include/dilbench_plugin.h): dlopen a shared library, check its versioned table,
// and register each kernel it lists as a Kernel (timed by the same session engine as built-ins)
// with a descriptor (origin "plugin"). Everything that goes wrong is an Error(InvalidConfig,
// field "plugin") naming the file and what is wrong.
#pragma once
#include <string>
#include <vector>

namespace dilbench {

struct LoadedPlugin {
  std::string path;        // as given
  std::string pluginName;  // the plugin's own name
  std::string abi;         // "major.minor" it was built against
  std::vector<std::string> kernels;
};

// Loads `path` once per process (a second call with the same path returns the first result).
LoadedPlugin loadPlugin(const std::string& path);
std::vector<LoadedPlugin> loadedPlugins();

}  // namespace dilbench
