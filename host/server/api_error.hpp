// An error the API reports to its client: an HTTP status and the OpenAI error object
// {"error": {"message", "type", "param", "code"}} that the official clients turn into exceptions.
#pragma once

#include <stdexcept>
#include <string>

namespace mmrt::server {

class ApiError : public std::runtime_error {
 public:
  // status: the HTTP status (400, 401, 404, 413, 429, 500, 503, 504). param names the offending request
  // field ("messages[0].content[1].image_url"), empty when no single field is at fault.
  ApiError(int status, std::string message, std::string param = {}, std::string code = {});

  int status() const { return status_; }
  const std::string& param() const { return param_; }
  const std::string& code() const { return code_; }
  // OpenAI's error type for the status: invalid_request_error, authentication_error, ...
  const char* type() const;
  // The JSON body, serialized.
  std::string body() const;

 private:
  int status_;
  std::string param_, code_;
};

}  // namespace mmrt::server
