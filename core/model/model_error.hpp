#pragma once

#include <stdexcept>

namespace mmrt::model {

// Everything in mmrt_model reports a bad model folder with ModelError; the message names the file and, where
// one is involved, the tensor or config key.
class ModelError : public std::runtime_error {
  using runtime_error::runtime_error;
};

}  // namespace mmrt::model
