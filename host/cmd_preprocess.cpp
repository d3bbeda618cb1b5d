// mmrt preprocess: what the encoder receives for one image, through the model plugin's processor role.
#include <boost/json.hpp>
#include <iostream>

#include "core/image/decode.hpp"
#include "host/commands.hpp"
#include "host/runtime.hpp"

namespace mmrt::host {

int run_preprocess(const std::vector<std::string>& argv) {
  auto specs = model_options();
  specs.push_back({"image", true, false, "image file"});
  specs.push_back({"json", false, false, "print JSON (the default output is the same JSON, indented less)"});
  Args args("preprocess", specs, argv);
  if (args.flag("help")) {
    std::cout << args.usage();
    return 0;
  }
  setup_logging(args);
  if (!args.has("image")) throw UsageError("preprocess: --image is required");
  LoadedModel loaded = load_model(args);
  const std::string path = args.get("image");
  image::Image img;
  try {
    img = image::decode_image(read_file(path));
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
  const engine::ProcessedItem item = loaded.model->process_image(img);
  const float* px = item.pixel_values.data_as<float>();
  const int64_t n = item.pixel_values.numel();
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += px[i];
  boost::json::array head;
  for (int64_t i = 0; i < std::min<int64_t>(16, n); ++i) head.push_back(double(px[i]));
  boost::json::object out;
  out["pixel_values"] = {
      {"shape", boost::json::value_from(item.pixel_values.shape())}, {"sum", sum}, {"head", head}};
  // The processor's metadata (a grid, an original size), as Transformers' processor returns it for one
  // image: the values with a leading batch dimension of 1.
  for (const auto& m : item.metadata) {
    boost::json::array values;
    const int64_t count = m.tensor.numel();
    using backend::operator==;
    const MmrtDataType dt = m.tensor.dtype();
    for (int64_t i = 0; i < count; ++i) {
      if (dt == backend::kI64) {
        values.push_back(m.tensor.data_as<int64_t>()[i]);
      } else if (dt == backend::kI32) {
        values.push_back(m.tensor.data_as<int32_t>()[i]);
      } else if (dt == backend::kF32) {
        values.push_back(double(m.tensor.data_as<float>()[i]));
      }
    }
    out[m.name] = boost::json::array{values};
  }
  out["num_image_tokens"] = item.n_tokens;
  std::cout << boost::json::serialize(out) << "\n";
  return 0;
}

}  // namespace mmrt::host
