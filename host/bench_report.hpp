// What both `mmrt bench` modes report: latency distributions (mean, p50, p99) and throughput, as text or
// one JSON object.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <vector>

#include "host/cli_args.hpp"

namespace mmrt::host {

struct LatencySummary {
  double mean = 0, p50 = 0, p99 = 0;
};
// Percentiles interpolate linearly between order statistics (numpy's default). Empty input gives zeros.
LatencySummary summarize(std::vector<double> values);
boost::json::object to_json(const LatencySummary& s);
std::string format_line(const std::string& label, const LatencySummary& s, const char* unit);

// The serving mode: replays a JSONL dataset against a running server (host/cmd_bench_serve.cpp).
int run_bench_serve(const Args& args);

}  // namespace mmrt::host
