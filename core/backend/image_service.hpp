// The "mmrt.host.image/1" table: the Hugging Face image processors of core/image offered to plugins.
// Processors are built once per distinct config text and shared; every slot is thread-safe.
#pragma once

#include "plugin_api/mmrt_abi.h"

namespace mmrt::backend {

const MmrtImageApi* image_service();

}  // namespace mmrt::backend
