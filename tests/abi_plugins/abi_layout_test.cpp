// Pins the layout of every struct of ABI version 1.0. The numbers were worked out by hand from the LP64 C
// rules (each field at the next multiple of its alignment), not copied from a compiler, so a reordered,
// retyped or inserted field fails to compile. Appending a field changes only that struct's size assertion,
// which is then updated together with MMRT_ABI_MINOR.
#include <cstddef>

#include <doctest/doctest.h>

#include "plugin_api/mmrt_abi.h"

static_assert(sizeof(void*) == 8 && sizeof(int64_t) == 8, "the pinned offsets are for LP64 targets");

#define PIN(type, field, offset) static_assert(offsetof(type, field) == (offset), #type "." #field " moved")
#define PIN_PREFIX(type)     \
  PIN(type, struct_size, 0); \
  PIN(type, flags, 4);       \
  PIN(type, next, 8)

PIN(MmrtExt, struct_size, 0);
PIN(MmrtExt, flags, 4);
PIN(MmrtExt, next, 8);
PIN(MmrtExt, type_id, 16);
static_assert(sizeof(MmrtExt) == 24);

PIN(MmrtDevice, device_type, 0);
PIN(MmrtDevice, device_id, 4);
static_assert(sizeof(MmrtDevice) == 8);

PIN(MmrtDataType, code, 0);
PIN(MmrtDataType, bits, 1);
PIN(MmrtDataType, lanes, 2);
static_assert(sizeof(MmrtDataType) == 4);

// DLPack's DLTensor layout.
PIN(MmrtTensor, data, 0);
PIN(MmrtTensor, device, 8);
PIN(MmrtTensor, ndim, 16);
PIN(MmrtTensor, dtype, 20);
PIN(MmrtTensor, shape, 24);
PIN(MmrtTensor, strides, 32);
PIN(MmrtTensor, byte_offset, 40);
static_assert(sizeof(MmrtTensor) == 48);

PIN(MmrtStream, device_type, 0);
PIN(MmrtStream, device_id, 4);
PIN(MmrtStream, native, 8);
static_assert(sizeof(MmrtStream) == 16);

PIN(MmrtAbiVersion, major, 0);
PIN(MmrtAbiVersion, minor, 4);
PIN(MmrtAbiVersion, required_minor, 8);
static_assert(sizeof(MmrtAbiVersion) == 12);

PIN_PREFIX(MmrtHostApi);
PIN(MmrtHostApi, abi, 16);
PIN(MmrtHostApi, status_new, 32);
PIN(MmrtHostApi, status_code, 40);
PIN(MmrtHostApi, status_message, 48);
PIN(MmrtHostApi, status_free, 56);
PIN(MmrtHostApi, log, 64);
PIN(MmrtHostApi, log_enabled, 72);
PIN(MmrtHostApi, alloc, 80);
PIN(MmrtHostApi, free, 88);
PIN(MmrtHostApi, get_extension, 96);
static_assert(sizeof(MmrtHostApi) == 104);

PIN(MmrtKvLayer, k, 0);
PIN(MmrtKvLayer, v, 8);
static_assert(sizeof(MmrtKvLayer) == 16);

PIN_PREFIX(MmrtBatchLayout);
PIN(MmrtBatchLayout, n_seqs, 16);
PIN(MmrtBatchLayout, block_size, 20);
PIN(MmrtBatchLayout, query_start, 24);
PIN(MmrtBatchLayout, seq_lens, 32);
PIN(MmrtBatchLayout, block_tables, 40);
PIN(MmrtBatchLayout, slot_mapping, 48);
static_assert(sizeof(MmrtBatchLayout) == 56);

PIN_PREFIX(MmrtKernels);
PIN(MmrtKernels, linear, 16);
PIN(MmrtKernels, embedding, 24);
PIN(MmrtKernels, layer_norm, 32);
PIN(MmrtKernels, rms_norm, 40);
PIN(MmrtKernels, activation, 48);
PIN(MmrtKernels, silu_mul, 56);
PIN(MmrtKernels, add, 64);
PIN(MmrtKernels, rope, 72);
PIN(MmrtKernels, attention, 80);
PIN(MmrtKernels, kv_cache_write, 88);
PIN(MmrtKernels, paged_attention, 96);
PIN(MmrtKernels, patch_embed, 104);
PIN(MmrtKernels, copy, 112);
PIN(MmrtKernels, gather_rows, 120);
PIN(MmrtKernels, scatter_rows, 128);
PIN(MmrtKernels, scale, 136);
// Minor 0 ends at scale; minor 1 appended after it.
static_assert(MMRT_SIZEOF(MmrtKernels, scale) == 144);

PIN_PREFIX(MmrtImage);
PIN(MmrtImage, width, 16);
PIN(MmrtImage, height, 20);
PIN(MmrtImage, rgb, 24);
PIN(MmrtImage, alpha, 32);
static_assert(sizeof(MmrtImage) == 40);

PIN_PREFIX(MmrtProcessorOutput);
PIN(MmrtProcessorOutput, host_ctx, 16);
PIN(MmrtProcessorOutput, alloc_tensor, 24);
PIN(MmrtProcessorOutput, n_tokens, 32);
static_assert(sizeof(MmrtProcessorOutput) == 40);

PIN_PREFIX(MmrtImageApi);
PIN(MmrtImageApi, preprocess, 16);
PIN(MmrtImageApi, fingerprint, 24);
// Minor 0 ends at fingerprint; minor 1 appended after it.
static_assert(MMRT_SIZEOF(MmrtImageApi, fingerprint) == 32);

PIN_PREFIX(MmrtWeightsApi);
PIN(MmrtWeightsApi, get, 16);
PIN(MmrtWeightsApi, contains, 24);
PIN(MmrtWeightsApi, count, 32);
PIN(MmrtWeightsApi, name_at, 40);
PIN(MmrtWeightsApi, ignore, 48);
// Minor 0 ends at ignore; minor 1 appended after it.
static_assert(MMRT_SIZEOF(MmrtWeightsApi, ignore) == 56);

PIN_PREFIX(MmrtPluginDescriptor);
PIN(MmrtPluginDescriptor, id, 16);
PIN(MmrtPluginDescriptor, version, 24);
PIN(MmrtPluginDescriptor, architectures, 32);
PIN(MmrtPluginDescriptor, n_architectures, 40);
PIN(MmrtPluginDescriptor, roles, 48);
PIN(MmrtPluginDescriptor, n_roles, 56);
static_assert(sizeof(MmrtPluginDescriptor) == 64);

PIN_PREFIX(MmrtCreateArgs);
PIN(MmrtCreateArgs, architecture, 16);
PIN(MmrtCreateArgs, model_dir, 24);
PIN(MmrtCreateArgs, config_json, 32);
PIN(MmrtCreateArgs, config_json_len, 40);
PIN(MmrtCreateArgs, preprocessor_config_json, 48);
PIN(MmrtCreateArgs, preprocessor_config_json_len, 56);
PIN(MmrtCreateArgs, weights_api, 64);
PIN(MmrtCreateArgs, weights, 72);
PIN(MmrtCreateArgs, device, 80);
PIN(MmrtCreateArgs, compute_dtype, 88);
static_assert(sizeof(MmrtCreateArgs) == 96);

PIN_PREFIX(MmrtProcessArgs);
PIN(MmrtProcessArgs, image, 16);
PIN(MmrtProcessArgs, out, 24);
static_assert(sizeof(MmrtProcessArgs) == 32);

PIN_PREFIX(MmrtProcessorRole);
PIN(MmrtProcessorRole, process, 16);
PIN(MmrtProcessorRole, fingerprint, 24);
// Minor 0 ends at fingerprint; minor 1 appended after it.
static_assert(MMRT_SIZEOF(MmrtProcessorRole, fingerprint) == 32);

PIN_PREFIX(MmrtEncodeArgs);
PIN(MmrtEncodeArgs, n_items, 16);
PIN(MmrtEncodeArgs, pixel_values, 24);
PIN(MmrtEncodeArgs, image_grid_thw, 32);
PIN(MmrtEncodeArgs, item_n_tokens, 40);
PIN(MmrtEncodeArgs, embeds, 48);
PIN(MmrtEncodeArgs, stream, 56);
// Minor 0 ends at stream; minor 1 appended after it.
static_assert(MMRT_SIZEOF(MmrtEncodeArgs, stream) == 64);

PIN_PREFIX(MmrtEncoderRole);
PIN(MmrtEncoderRole, embed_dim, 16);
PIN(MmrtEncoderRole, encode, 24);
// Minor 0 ends at encode; minor 1 appended after it.
static_assert(MMRT_SIZEOF(MmrtEncoderRole, encode) == 32);

PIN(MmrtPlaceholderRange, item, 0);
PIN(MmrtPlaceholderRange, offset, 8);
PIN(MmrtPlaceholderRange, length, 16);
static_assert(sizeof(MmrtPlaceholderRange) == 24);

PIN_PREFIX(MmrtPadArgs);
PIN(MmrtPadArgs, ids, 16);
PIN(MmrtPadArgs, n_ids, 24);
PIN(MmrtPadArgs, item_n_tokens, 32);
PIN(MmrtPadArgs, n_items, 40);
PIN(MmrtPadArgs, images, 48);
PIN(MmrtPadArgs, host_ctx, 56);
PIN(MmrtPadArgs, emit, 64);
PIN(MmrtPadArgs, emit_positions, 72);
// Minor 0 ends at emit_positions; minor 1 appended after it.
static_assert(MMRT_SIZEOF(MmrtPadArgs, emit_positions) == 80);

PIN_PREFIX(MmrtPadderRole);
PIN(MmrtPadderRole, expand, 16);
static_assert(sizeof(MmrtPadderRole) == 24);

PIN_PREFIX(MmrtKvSpec);
PIN(MmrtKvSpec, n_layer, 16);
PIN(MmrtKvSpec, n_head_kv, 20);
PIN(MmrtKvSpec, head_dim, 24);
PIN(MmrtKvSpec, dtype, 28);
PIN(MmrtKvSpec, n_cross_layer, 32);
PIN(MmrtKvSpec, position_axes, 36);
PIN(MmrtKvSpec, vocab_size, 40);
PIN(MmrtKvSpec, hidden_size, 48);
PIN(MmrtKvSpec, max_position, 56);
// Minor 0 ends at max_position; minor 1 appended after it.
static_assert(MMRT_SIZEOF(MmrtKvSpec, max_position) == 64);

PIN_PREFIX(MmrtDecodeArgs);
PIN(MmrtDecodeArgs, n_tokens, 16);
PIN(MmrtDecodeArgs, input_ids, 24);
PIN(MmrtDecodeArgs, positions, 32);
PIN(MmrtDecodeArgs, layout, 40);
PIN(MmrtDecodeArgs, kv, 48);
PIN(MmrtDecodeArgs, query_start_host, 56);
PIN(MmrtDecodeArgs, seq_lens_host, 64);
PIN(MmrtDecodeArgs, embeds, 72);
PIN(MmrtDecodeArgs, embeds_rows, 80);
PIN(MmrtDecodeArgs, logits_rows, 88);
PIN(MmrtDecodeArgs, logits, 96);
PIN(MmrtDecodeArgs, encoder_states, 104);
PIN(MmrtDecodeArgs, cross_layout, 112);
PIN(MmrtDecodeArgs, cross_kv, 120);
PIN(MmrtDecodeArgs, stream, 128);
static_assert(sizeof(MmrtDecodeArgs) == 136);

PIN_PREFIX(MmrtDecoderRole);
PIN(MmrtDecoderRole, kv_spec, 16);
PIN(MmrtDecoderRole, forward, 24);
// Minor 0 ends at forward; minor 1 appended after it.
static_assert(MMRT_SIZEOF(MmrtDecoderRole, forward) == 32);

PIN_PREFIX(MmrtPluginApi);
PIN(MmrtPluginApi, abi, 16);
PIN(MmrtPluginApi, descriptor, 32);
PIN(MmrtPluginApi, init, 40);
PIN(MmrtPluginApi, shutdown, 48);
PIN(MmrtPluginApi, create, 56);
PIN(MmrtPluginApi, destroy, 64);
PIN(MmrtPluginApi, get_role, 72);
static_assert(sizeof(MmrtPluginApi) == 80);

// The values a v1.0 writer puts in struct_size (MMRT_SIZEOF up to its last field).
TEST_CASE("MMRT_SIZEOF of the last v1.0 field is where each table ends") {
  CHECK(MMRT_SIZEOF(MmrtPluginApi, get_role) == 80);
  CHECK(MMRT_SIZEOF(MmrtHostApi, get_extension) == 104);
  CHECK(MMRT_SIZEOF(MmrtPluginDescriptor, n_roles) == 60);
  CHECK(MMRT_SIZEOF(MmrtCreateArgs, compute_dtype) == 92);
  MmrtPluginApi api{};
  api.struct_size = MMRT_SIZEOF(MmrtPluginApi, destroy);
  CHECK(MMRT_HAS_FIELD(&api, MmrtPluginApi, destroy));
  CHECK_FALSE(MMRT_HAS_FIELD(&api, MmrtPluginApi, get_role));
}

// Minor 1: appended fields and slots, each right after the end of minor 0.
static_assert(offsetof(MmrtKernels, gated_activation) == 144);
static_assert(offsetof(MmrtKernels, paged_attention_ex) == 152);
static_assert(offsetof(MmrtKernels, attention_varlen) == 160);
static_assert(offsetof(MmrtImageApi, to_rgb) == 32);
static_assert(offsetof(MmrtImageApi, normalize) == 72);
static_assert(offsetof(MmrtWeightsApi, get_as) == 56);
static_assert(offsetof(MmrtProcessorRole, get_fingerprint) == 32);
static_assert(offsetof(MmrtEncodeArgs, item_pixel_rows) == 64);
static_assert(offsetof(MmrtEncodeArgs, item_data) == 72);
static_assert(offsetof(MmrtEncoderRole, get_embed_dim) == 32);
static_assert(offsetof(MmrtPadArgs, item_data) == 80);
static_assert(offsetof(MmrtPadArgs, emit_encoder_input) == 88);
static_assert(offsetof(MmrtKvSpec, decoder_start_token_id) == 64);
static_assert(offsetof(MmrtKvSpec, max_encoder_len) == 88);
static_assert(offsetof(MmrtDecoderRole, encode_memory) == 32);
