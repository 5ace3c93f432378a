// The bundled default rules: rules/manifest.toml names each file and the
// source, format, action and category it becomes.
#include <fstream>

#include <toml++/toml.h>

#include "saring/engine.h"

namespace saring {

Status Engine::LoadDefaults(const std::string& rules_dir, const ChangeContext& ctx) {
  std::string manifest_path = rules_dir + "/manifest.toml";
  toml::table manifest;
  try {
    manifest = toml::parse_file(manifest_path);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(manifest_path + ": " + std::string(e.description()));
  }
  if (!manifest.contains("source")) return Status::OK();  // a manifest may name no defaults
  const toml::array* sources = manifest["source"].as_array();
  if (!sources) return Status::InvalidArgument(manifest_path + ": 'source' must be [[source]] tables");
  for (const toml::node& node : *sources) {
    const toml::table* t = node.as_table();
    if (!t) return Status::InvalidArgument(manifest_path + ": [[source]] must be a table");
    std::string name = (*t)["name"].value_or(std::string());
    std::string file = (*t)["file"].value_or(std::string());
    ImportRequest request;
    request.options.source = name;
    request.options.category = (*t)["category"].value_or(std::string(kDefaultCategory));
    request.options.force = true;  // the bundled set is authoritative for its own sources
    if (name.empty() || file.empty() ||
        !ParseFeedFormat((*t)["format"].value_or(std::string("plain")), &request.format) ||
        !ParseAction((*t)["action"].value_or(std::string("block")), &request.action)) {
      return Status::InvalidArgument(manifest_path + ": source '" + name +
                                     "' needs name, file, and a valid format and action");
    }
    std::ifstream in(rules_dir + "/" + file, std::ios::binary);
    if (!in) return Status::IOError("cannot read " + rules_dir + "/" + file);
    ImportResult result;
    SARING_RETURN_IF_ERROR(Import(request, in, ctx, &result).WithContext(file));
  }
  return Status::OK();
}

}  // namespace saring
