#include "core/plugin/decision_table.hpp"

#include <algorithm>
#include <array>

#include <boost/json.hpp>

namespace mmrt::plugin {
namespace {

std::string or_dash(const std::string& text) {
  return text.empty() ? "-" : text;
}

}  // namespace

std::string_view decision_name(Decision decision) {
  switch (decision) {
    case Decision::kLoaded:
      return "loaded";
    case Decision::kAvailable:
      return "available";
    case Decision::kShadowed:
      return "shadowed";
    case Decision::kRejected:
      return "rejected";
    case Decision::kConflict:
      return "conflict";
  }
  return "?";
}

std::vector<DecisionRow> DecisionTable::rows_for(std::string_view architecture) const {
  std::vector<DecisionRow> matching;
  for (const DecisionRow& row : rows) {
    if (row.architecture == architecture) matching.push_back(row);
  }
  return matching;
}

std::string format_decision_table(const DecisionTable& table) {
  std::string text = "Plugin directories, highest precedence first:\n";
  for (size_t i = 0; i < table.directories.size(); ++i) {
    text += "  [" + std::to_string(i) + "] " + table.directories[i].string() + "\n";
  }
  if (table.rows.empty()) return text + "No plugins found.\n";

  using Line = std::array<std::string, 6>;
  std::vector<Line> lines = {{"STATUS", "ARCHITECTURE", "ID", "VERSION", "PATH", "REASON"}};
  for (const DecisionRow& row : table.rows) {
    lines.push_back({std::string(decision_name(row.decision)), or_dash(row.architecture),
                     or_dash(row.plugin_id), or_dash(row.version),
                     "[" + std::to_string(row.tier) + "] " + row.path.string(), or_dash(row.reason)});
  }
  std::array<size_t, 6> widths{};
  for (const Line& line : lines) {
    for (size_t c = 0; c < line.size(); ++c) widths[c] = std::max(widths[c], line[c].size());
  }
  text += "\n";
  for (const Line& line : lines) {
    for (size_t c = 0; c + 1 < line.size(); ++c)
      text += line[c] + std::string(widths[c] - line[c].size() + 2, ' ');
    text += line.back() + "\n";
  }
  return text;
}

std::string format_decision_table_json(const DecisionTable& table) {
  boost::json::array directories;
  for (const auto& directory : table.directories) directories.emplace_back(directory.string());
  boost::json::array plugins;
  for (const DecisionRow& row : table.rows) {
    plugins.push_back(boost::json::object{{"status", decision_name(row.decision)},
                                          {"architecture", row.architecture},
                                          {"id", row.plugin_id},
                                          {"version", row.version},
                                          {"path", row.path.string()},
                                          {"reason", row.reason},
                                          {"tier", row.tier}});
  }
  return boost::json::serialize(boost::json::object{{"directories", directories}, {"plugins", plugins}});
}

}  // namespace mmrt::plugin
