#pragma once
// Softmax over the last dimension with max subtraction; exponentials in fp32, the normaliser summed in
// double.

#include <cstdint>

namespace mmrt::cpu {

// In place, row by row (rows in parallel with OpenMP). A row whose entries are all -inf becomes all zeros
// instead of NaN (torch would give NaN; no model here relies on that).
void softmax(float* x,  // [rows, cols]
             int64_t rows, int64_t cols);

// One row: y = x - max - log(Σ exp(x - max)), the log-probabilities of logits x (sampling, logprobs).
// At least one entry must be finite. y may alias x.
void log_softmax(const float* x,  // [cols]
                 float* y,        // [cols]
                 int64_t cols);

}  // namespace mmrt::cpu
