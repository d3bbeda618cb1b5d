#include "core/image/image.hpp"

#include <string>

namespace mmrt::image {

Image make_image(int32_t width, int32_t height) {
  if (width < 0 || height < 0) {
    throw ImageError("image: invalid size " + std::to_string(width) + "x" + std::to_string(height));
  }
  Image image;
  image.width = width;
  image.height = height;
  image.rgb.assign(static_cast<size_t>(width) * static_cast<size_t>(height) * 3, 0);
  return image;
}

}  // namespace mmrt::image
