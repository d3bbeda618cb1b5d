/* mmrt plugin ABI, version 1.1.
 *
 * The only thing that crosses between the mmrt host and a model plugin. Pure C99, fixed-width types, no
 * enums or bool inside structs. docs/plugin-abi.md is the long form of this contract.
 *
 * A complete minimal plugin (sdk/template/plugin.cpp builds the same with the C++ helpers):
 * @code
 *   static const MmrtHostApi* g_host;
 *   static const char* kArchs[] = {"EchoForCausalLM"};
 *   static const char* kRoles[] = {MMRT_ROLE_PADDER};
 *   static const MmrtPluginDescriptor kDesc = {MMRT_SIZEOF(MmrtPluginDescriptor, n_roles), 0, NULL,
 *       "org.example.echo", "0.1.0", kArchs, 1, kRoles, 1};
 *   static MmrtStatus* init(void) { return NULL; }
 *   static void shutdown(void) {}
 *   static MmrtStatus* create(const MmrtCreateArgs* a, MmrtInstance** out) { *out = NULL; return NULL; }
 *   static void destroy(MmrtInstance* i) {}
 *   static const void* get_role(MmrtInstance* i, const char* id) { return NULL; }
 *   static const MmrtPluginApi kApi = {MMRT_SIZEOF(MmrtPluginApi, get_role), 0, NULL,
 *       {MMRT_ABI_MAJOR, MMRT_ABI_MINOR, 0}, &kDesc, init, shutdown, create, destroy, get_role};
 *   MMRT_EXPORT MmrtStatus* mmrt_plugin_entry_v1(const MmrtHostApi* host, const MmrtPluginApi** out) {
 *     g_host = host; *out = &kApi; return NULL;
 *   }
 * @endcode
 *
 * Versioning. MMRT_ABI_MAJOR changes when anything is removed, retyped, reordered or changes meaning;
 * MMRT_ABI_MINOR grows when a field, a table slot or an extension id is appended. Every struct and table
 * starts with MMRT_STRUCT_PREFIX; its writer sets struct_size = MMRT_SIZEOF(type, last field it knows), and
 * a reader uses a field only when it lies inside struct_size (otherwise the documented default). A table
 * slot that is NULL or outside struct_size is "unsupported". Structs are zero-initialised by their writer.
 * The offsets of minor 0 are pinned by static assertions in tests/abi_plugins; DO NOT MODIFY fields above
 * the end of a struct, only append.
 *
 * Minor 1 appended fields and slots only; each is marked [1.1]. A plugin that uses one sets its required host
 * minor to 1, so an older host refuses it at scan time with a reason instead of calling through a NULL slot.
 *
 * Tensor placement. Tensors the host hands to encode/forward/encode_memory live on MmrtCreateArgs.device
 * (input_ids, positions, embeds, embeds_rows, logits_rows, logits, every MmrtBatchLayout tensor, the KV
 * pages, pixel_values); the *_host pointers are their CPU mirrors. Item metadata (MmrtItemData,
 * image_grid_thw, item_n_tokens) stays in host memory. Processor outputs are host memory.
 *
 * Output structs the plugin fills (MmrtKvSpec, MmrtProcessorOutput.n_tokens): the host sets struct_size
 * to what it knows; the plugin writes only fields inside it.
 *
 * The start of MmrtHostApi (prefix, abi, status_new) keeps its layout in every major version, so a plugin
 * can always report UNSUPPORTED_VERSION through status_new.
 *
 * In-place use: an op's output may alias an input only where its slot says "y may be x".
 *
 * Ownership words used below: "borrowed for the call" (valid only during the call; copy to keep),
 * "valid until destroy" (until MmrtPluginApi.destroy of the instance returns), "host owns".
 *
 * Threading labels: [loader-thread] is one host thread at a time; [thread-safe] may be called from many
 * threads at once; [serialized-per-instance] is never called concurrently on one instance (separate
 * instances may run in parallel). The host calls encode and forward of one instance from one thread, so
 * they never overlap each other either; processor and padder calls may overlap both.
 */
#ifndef MMRT_ABI_H_
#define MMRT_ABI_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MMRT_ABI_MAJOR 1
#define MMRT_ABI_MINOR 1

#if defined(__GNUC__)
#define MMRT_EXPORT __attribute__((visibility("default")))
#else
#define MMRT_EXPORT
#endif

/* Size of a struct up to and including `field`: what a writer that knows `field` as its last puts in
 * struct_size. */
#define MMRT_SIZEOF(type, field) (offsetof(type, field) + sizeof(((type*)0)->field))
/* Whether the reader may use `field` of the struct `p` points to. */
#define MMRT_HAS_FIELD(p, type, field) ((p) != NULL && (p)->struct_size >= MMRT_SIZEOF(type, field))

/* Optional knobs chained off a struct's `next`. A reader skips unknown type ids, unless `flags` has
 * MMRT_EXT_REQUIRED, in which case the call fails with MMRT_STATUS_UNIMPLEMENTED. */
#define MMRT_EXT_REQUIRED 1u
typedef struct MmrtExt {
  uint32_t struct_size;
  uint32_t flags;
  const struct MmrtExt* next;
  const char* type_id; /* e.g. "com.example.knob/1" */
} MmrtExt;

#define MMRT_STRUCT_PREFIX \
  uint32_t struct_size;    \
  uint32_t flags;          \
  const MmrtExt* next

/* ---------------------------------------------------------------------------------------------------------
 * Status. NULL means success. Only the host creates statuses (MmrtHostApi.status_new); a plugin returns
 * the pointer and the host frees it, so a status outlives the plugin and never touches its allocator.
 * Codes are closed and append-only; a number is never reused.
 */
#define MMRT_STATUS_OK 0
#define MMRT_STATUS_CANCELLED 1
#define MMRT_STATUS_UNKNOWN 2
#define MMRT_STATUS_INVALID_ARGUMENT 3
#define MMRT_STATUS_NOT_FOUND 5
#define MMRT_STATUS_ALREADY_EXISTS 6
#define MMRT_STATUS_RESOURCE_EXHAUSTED 8
#define MMRT_STATUS_FAILED_PRECONDITION 9
#define MMRT_STATUS_OUT_OF_RANGE 11
#define MMRT_STATUS_UNIMPLEMENTED 12
#define MMRT_STATUS_INTERNAL 13
#define MMRT_STATUS_UNAVAILABLE 14
#define MMRT_STATUS_DATA_LOSS 15
#define MMRT_STATUS_UNSUPPORTED_VERSION 100
#define MMRT_STATUS_PLUGIN_INTERNAL 101 /* the plugin caught an exception at its boundary */

typedef struct MmrtStatus MmrtStatus; /* opaque, host-owned */

/* ---------------------------------------------------------------------------------------------------------
 * Tensors use DLPack's DLTensor field layout exactly (dlpack.h v0.8+), so SDK helpers convert for free. */
#define MMRT_DEVICE_CPU 1  /* kDLCPU */
#define MMRT_DEVICE_CUDA 2 /* kDLCUDA */

#define MMRT_DTYPE_INT 0    /* kDLInt */
#define MMRT_DTYPE_UINT 1   /* kDLUInt */
#define MMRT_DTYPE_FLOAT 2  /* kDLFloat */
#define MMRT_DTYPE_BFLOAT 4 /* kDLBfloat */

typedef struct MmrtDevice {
  int32_t device_type; /* MMRT_DEVICE_* */
  int32_t device_id;
} MmrtDevice;

typedef struct MmrtDataType {
  uint8_t code; /* MMRT_DTYPE_* */
  uint8_t bits;
  uint16_t lanes; /* always 1 */
} MmrtDataType;

typedef struct MmrtTensor {
  void* data;
  MmrtDevice device;
  int32_t ndim;
  MmrtDataType dtype;
  int64_t* shape;   /* [ndim] */
  int64_t* strides; /* [ndim] in elements, or NULL for compact row-major */
  uint64_t byte_offset;
} MmrtTensor;

/* A host-owned execution queue. device_type CPU: native is NULL and work runs synchronously on the
 * calling thread (kernels may fan out internally). CUDA: native is a cudaStream_t; all plugin work goes
 * on it; device-wide synchronisation and the legacy default stream are forbidden. */
typedef struct MmrtStream {
  int32_t device_type;
  int32_t device_id;
  void* native;
} MmrtStream;

typedef struct MmrtAbiVersion {
  uint32_t major;
  /* host: its minor; plugin: the minor it was built against */
  uint32_t minor;
  /* host: the oldest plugin minor it accepts; plugin: the oldest host minor it needs */
  uint32_t required_minor;
} MmrtAbiVersion;

/* ---------------------------------------------------------------------------------------------------------
 * Host services. One const table, valid from the entry call until after shutdown.
 */
#define MMRT_LOG_TRACE 0
#define MMRT_LOG_DEBUG 1
#define MMRT_LOG_INFO 2
#define MMRT_LOG_WARN 3
#define MMRT_LOG_ERROR 4

typedef struct MmrtHostApi {
  MMRT_STRUCT_PREFIX;
  MmrtAbiVersion abi;
  /* [thread-safe] New status; copies msg (UTF-8, len bytes). code must not be MMRT_STATUS_OK. */
  MmrtStatus* (*status_new)(int32_t code, const char* msg, uint64_t len);
  /* [thread-safe] Reads a status the host handed to the plugin (e.g. from a kernel call). */
  int32_t (*status_code)(const MmrtStatus* status);
  const char* (*status_message)(const MmrtStatus* status); /* valid until status_free */
  /* [thread-safe] Frees a status the plugin received from the host and does not return onwards. */
  void (*status_free)(MmrtStatus* status);
  /* [thread-safe] Log a message (copied). file may be NULL. */
  void (*log)(int32_t level, const char* file, int32_t line, const char* msg, uint64_t len);
  int32_t (*log_enabled)(int32_t level);
  /* [thread-safe] Memory on a device (CPU: host memory). The plugin frees what it allocates with free,
   * never with its own allocator. RESOURCE_EXHAUSTED when out of memory. */
  MmrtStatus* (*alloc)(MmrtDevice device, uint64_t bytes, uint64_t alignment, void** out);
  void (*free)(MmrtDevice device, void* ptr);
  /* [thread-safe] A host extension table by id ("mmrt.host.kernels/1", "mmrt.host.image/1"), or NULL.
   * Tables are const and live as long as the host. */
  const void* (*get_extension)(const char* id);
} MmrtHostApi;

/* ---------------------------------------------------------------------------------------------------------
 * Kernels: "mmrt.host.kernels/1". The op layer model code calls; the host picks the backend from the
 * tensors' device. All tensors must be compact row-major unless a slot says otherwise. Activations and
 * weights are in the create args' compute dtype (f32 on CPU). All slots [thread-safe] across streams.
 */
#define MMRT_KERNELS_EXTENSION "mmrt.host.kernels/1"

#define MMRT_ACT_GELU_ERF 0
#define MMRT_ACT_GELU_TANH 1
#define MMRT_ACT_QUICK_GELU 2
#define MMRT_ACT_SILU 3
#define MMRT_ACT_RELU 4

/* One layer of the host-owned paged KV cache: k and v are [n_blocks, block_size, n_head_kv, head_dim]. */
typedef struct MmrtKvLayer {
  const MmrtTensor* k;
  const MmrtTensor* v;
} MmrtKvLayer;

/* Sequences of one batched step. Token rows of sequence s are query_start[s] .. query_start[s+1]-1;
 * seq_lens[s] counts its cached tokens including this step's; block_tables is [n_seqs, max_blocks]. */
typedef struct MmrtBatchLayout {
  MMRT_STRUCT_PREFIX;
  int32_t n_seqs;
  int32_t block_size;
  const MmrtTensor* query_start;  /* [n_seqs + 1] int32 */
  const MmrtTensor* seq_lens;     /* [n_seqs] int32 */
  const MmrtTensor* block_tables; /* [n_seqs, max_blocks] int32 */
  const MmrtTensor* slot_mapping; /* [n_tokens] int64, cache slot of each new token; -1 = do not store */
} MmrtBatchLayout;

/* [1.1] Arguments of paged_attention_ex. Zero-initialise; fields outside struct_size take the defaults
 * in brackets. */
typedef struct MmrtPagedAttentionArgs {
  MMRT_STRUCT_PREFIX;
  const MmrtTensor* q; /* [n_tokens, n_head, head_dim], the batch's rows */
  MmrtKvLayer layer;
  const MmrtBatchLayout* layout; /* query_start over q's rows; seq_lens = keys each sequence attends to */
  float scale;
  /* 1: query row i of a sequence with n_q rows and L keys sees keys j <= L - n_q + i. 0: every key (cross
   * attention over encoder memory). [1] */
  int32_t causal;
  /* T5 relative position bias: f32 [n_buckets, n_head] added to the score of (query position i, key j) at
   * bucket(j - i) (HF's _relative_position_bucket with bidirectional, n_buckets, max_distance), where the
   * query position is L - n_q + its row in the sequence. NULL: no bias. [NULL] */
  const MmrtTensor* rel_bias;
  int32_t n_buckets;
  int32_t max_distance;
  int32_t bidirectional;
  MmrtTensor* out; /* like q */
} MmrtPagedAttentionArgs;

/* [1.1] Arguments of attention_varlen: many independent dense attentions in one call (Swin windows, the
 * images of a Qwen2-VL batch). Sequence s owns query rows cu_q[s]..cu_q[s+1]-1 and key rows
 * cu_k[s]..cu_k[s+1]-1. */
typedef struct MmrtVarlenAttentionArgs {
  MMRT_STRUCT_PREFIX;
  const MmrtTensor* q; /* [Σ n_q, n_head, head_dim] */
  const MmrtTensor* k; /* [Σ n_k, n_head_kv, head_dim] */
  const MmrtTensor* v; /* like k */
  int32_t n_seqs;
  const int32_t* cu_q_host; /* [n_seqs + 1] host memory (the split is decided on the CPU) */
  const int32_t* cu_k_host; /* [n_seqs + 1] host memory */
  /* NULL, or f32 [bias_period, n_head, n_q, n_k] shared by sequences of equal length n_q x n_k: sequence
   * s adds bias[s % bias_period]. Swin passes its relative position bias plus shift mask with
   * bias_period = windows per image. */
  const MmrtTensor* bias;
  int32_t bias_period;
  float scale;
  int32_t causal;  /* as in attention */
  MmrtTensor* out; /* like q */
} MmrtVarlenAttentionArgs;

typedef struct MmrtKernels {
  MMRT_STRUCT_PREFIX;
  /* y[m, n] = x[m, k] · w[n, k]ᵀ + bias[n]; bias may be NULL. [1.1] w may also be bf16 or f16 while x and
   * y are f32 (weights kept in the checkpoint's dtype, widened inside the kernel, f32 accumulation). */
  MmrtStatus* (*linear)(const MmrtTensor* x, const MmrtTensor* w, const MmrtTensor* bias, MmrtTensor* y,
                        const MmrtStream* stream);
  /* out[i, :] = table[ids[i], :]; ids int32 [n]; an id outside the table is OUT_OF_RANGE. [1.1] table may
   * be bf16 or f16 while out is f32. */
  MmrtStatus* (*embedding)(const MmrtTensor* table, const MmrtTensor* ids, MmrtTensor* out,
                           const MmrtStream* stream);
  /* Row-wise over the last dim. bias may be NULL. */
  MmrtStatus* (*layer_norm)(const MmrtTensor* x, const MmrtTensor* weight, const MmrtTensor* bias, float eps,
                            MmrtTensor* y, const MmrtStream* stream);
  MmrtStatus* (*rms_norm)(const MmrtTensor* x, const MmrtTensor* weight, float eps, MmrtTensor* y,
                          const MmrtStream* stream);
  /* y = act(x) elementwise; kind is MMRT_ACT_*; y may be x. */
  MmrtStatus* (*activation)(int32_t kind, const MmrtTensor* x, MmrtTensor* y, const MmrtStream* stream);
  /* y = silu(gate) * up, elementwise. y may be gate or up (as every backend has done since 1.0). */
  MmrtStatus* (*silu_mul)(const MmrtTensor* gate, const MmrtTensor* up, MmrtTensor* y,
                          const MmrtStream* stream);
  /* y = a + b elementwise; b may also be one row broadcast over a's rows. y may be a. */
  MmrtStatus* (*add)(const MmrtTensor* a, const MmrtTensor* b, MmrtTensor* y, const MmrtStream* stream);
  /* NeoX (half-rotation) RoPE in place on x [n_tokens, n_heads, head_dim], first rot_dim dims.
   * positions int32 [n_tokens] or, for multimodal RoPE, [3, n_tokens] with mrope_section (3 int32 summing to
   * rot_dim/2; NULL otherwise). inv_freq f32 [rot_dim/2] is computed by the model, so rope scaling stays
   * there. */
  MmrtStatus* (*rope)(MmrtTensor* x, const MmrtTensor* positions, const MmrtTensor* inv_freq,
                      const int32_t* mrope_section, float attention_scaling, const MmrtStream* stream);
  /* Dense attention within one sequence: q [n_q, n_head, head_dim], k, v [n_kv, n_head_kv, head_dim],
   * out like q. softmax(q·kᵀ·scale + bias + mask)·v; causal lets query i see keys j <= i + n_kv - n_q.
   * bias is NULL or f32 [n_head, n_q, n_kv]. */
  MmrtStatus* (*attention)(const MmrtTensor* q, const MmrtTensor* k, const MmrtTensor* v,
                           const MmrtTensor* bias, float scale, int32_t causal, MmrtTensor* out,
                           const MmrtStream* stream);
  /* Stores k, v [n_tokens, n_head_kv, head_dim] into the cache slots of layout->slot_mapping. */
  MmrtStatus* (*kv_cache_write)(const MmrtTensor* k, const MmrtTensor* v, MmrtKvLayer layer,
                                const MmrtBatchLayout* layout, const MmrtStream* stream);
  /* Causal attention of q [n_tokens, n_head, head_dim] (the batch's rows) over each sequence's cached
   * keys and values (this step's already written); out like q. */
  MmrtStatus* (*paged_attention)(const MmrtTensor* q, MmrtKvLayer layer, const MmrtBatchLayout* layout,
                                 float scale, MmrtTensor* out, const MmrtStream* stream);
  /* Non-overlapping patch convolution: pixels [C, H, W], weight [out_ch, C, p, p], bias [out_ch] or NULL
   * -> out [(H/p)·(W/p), out_ch], patches row-major. */
  MmrtStatus* (*patch_embed)(const MmrtTensor* pixels, const MmrtTensor* weight, const MmrtTensor* bias,
                             MmrtTensor* out, const MmrtStream* stream);
  /* dst = src for 2-D tensors of equal shape; either may be strided (row stride only), e.g. to drop a CLS
   * row or to place features side by side. Converts between the compute dtype and f32, and copies across
   * devices (a CPU source into a device destination is how a plugin uploads a small table). */
  MmrtStatus* (*copy)(const MmrtTensor* src, MmrtTensor* dst, const MmrtStream* stream);
  /* dst[i, :] = src[rows[i], :] (gather); rows int32. */
  MmrtStatus* (*gather_rows)(const MmrtTensor* src, const MmrtTensor* rows, MmrtTensor* dst,
                             const MmrtStream* stream);
  /* dst[rows[i], :] = src[i, :] (scatter, e.g. image embeddings into the token rows). */
  MmrtStatus* (*scatter_rows)(const MmrtTensor* src, const MmrtTensor* rows, MmrtTensor* dst,
                              const MmrtStream* stream);
  /* x *= s elementwise. */
  MmrtStatus* (*scale)(MmrtTensor* x, float s, const MmrtStream* stream);
  /* [1.1] y = act(gate) * up elementwise; kind is MMRT_ACT_* (T5's gated-GELU, SwiGLU with SILU). y may be
   * gate or up. */
  MmrtStatus* (*gated_activation)(int32_t kind, const MmrtTensor* gate, const MmrtTensor* up, MmrtTensor* y,
                                  const MmrtStream* stream);
  /* [1.1] paged_attention with a causal switch and an optional relative position bias; reads a self or a
   * cross cache alike. */
  MmrtStatus* (*paged_attention_ex)(const MmrtPagedAttentionArgs* args, const MmrtStream* stream);
  /* [1.1] Batched dense attention over variable-length sequences (see MmrtVarlenAttentionArgs). */
  MmrtStatus* (*attention_varlen)(const MmrtVarlenAttentionArgs* args, const MmrtStream* stream);
} MmrtKernels;

/* ---------------------------------------------------------------------------------------------------------
 * Images: "mmrt.host.image/1". The host decodes media (core/image) and offers Pillow-exact primitives
 * [1.1], from which a plugin's processor composes its model's preprocessing (sdk/mmrt/image/ has the
 * common compositions), so every plugin preprocesses exactly as Transformers' PIL backend does. [thread-safe]
 */
/* [1.1] PIL's Image.Resampling codes, as preprocessor_config.json "resample" stores them. */
#define MMRT_RESAMPLE_NEAREST 0
#define MMRT_RESAMPLE_LANCZOS 1
#define MMRT_RESAMPLE_BILINEAR 2
#define MMRT_RESAMPLE_BICUBIC 3
#define MMRT_RESAMPLE_BOX 4
#define MMRT_RESAMPLE_HAMMING 5

/* [1.1] Layouts of normalize's float output. */
#define MMRT_LAYOUT_CHW 0
#define MMRT_LAYOUT_HWC 1
#define MMRT_IMAGE_EXTENSION "mmrt.host.image/1"

typedef struct MmrtImage {
  MMRT_STRUCT_PREFIX;
  int32_t width;
  int32_t height;
  const uint8_t* rgb;   /* [height, width, 3] RGB8, row-major; borrowed for the call */
  const uint8_t* alpha; /* [height, width] when the source has transparency, else NULL; borrowed */
} MmrtImage;

/* Where a processor writes one item's tensors. Host-provided; the plugin fills it during the call. */
typedef struct MmrtProcessorOutput {
  MMRT_STRUCT_PREFIX;
  void* host_ctx;
  /* Allocates the named output in host memory and returns where to write it (host owns). "pixel_values"
   * (f32, any shape; items are concatenated along dim 0 for the encoder) is what the encoder receives. Every
   * other name is the item's metadata [1.1] (at 1.0 only "image_grid_thw", int64 [3]): the host carries it
   * untouched to the encoder and the padder (MmrtItemData) and never interprets it. At most 16 names of at
   * most 64 bytes each. Calling it twice for one name replaces it. */
  MmrtStatus* (*alloc_tensor)(void* host_ctx, const char* name, MmrtDataType dtype, int32_t ndim,
                              const int64_t* shape, void** data);
  /* Written by the plugin: how many embedding rows the encoder produces for this item, which is also the
   * length of its placeholder run in the prompt. */
  int64_t n_tokens;
} MmrtProcessorOutput;

typedef struct MmrtImageApi {
  MMRT_STRUCT_PREFIX;
  /* Runs the image processor that `preprocessor_config_json` (a checkpoint's preprocessor config, v4
   * flat layout) describes on one image; writes "pixel_values" (and "image_grid_thw" where the processor
   * has one) through out->alloc_tensor. Leaves out->n_tokens alone. */
  MmrtStatus* (*preprocess)(const char* preprocessor_config_json, uint64_t len, const MmrtImage* image,
                            MmrtProcessorOutput* out);
  /* Writes the processor's canonical settings string (every setting that changes its output) into buf
   * (capacity cap, NUL-terminated); *len receives the full length, so a short buffer can be retried. */
  MmrtStatus* (*fingerprint)(const char* preprocessor_config_json, uint64_t len, char* buf, uint64_t cap,
                             uint64_t* out_len);
  /* The slots above are kept for 1.0 plugins; they understand the resize/crop/normalize processors only.
   * [1.1] primitives follow. Each writes a caller-allocated result; out-of-range arguments are
   * INVALID_ARGUMENT, never a crash. Results carry no alpha. */
  /* transformers convert_to_rgb: pixels with alpha composited over opaque white. dst [h, w, 3]. */
  MmrtStatus* (*to_rgb)(const MmrtImage* src, uint8_t* dst);
  /* PIL Image.resize((width, height), filter, reducing_gap=gap); gap 0 means none. dst [height, width, 3]. */
  MmrtStatus* (*resize)(const MmrtImage* src, int32_t width, int32_t height, int32_t filter,
                        double reducing_gap, uint8_t* dst);
  /* PIL Image.crop((x0, y0, x0 + width, y0 + height)): pixels outside the source are black, so this also
   * pads (negative x0/y0, or a box beyond the edge). dst [height, width, 3]. */
  MmrtStatus* (*crop)(const MmrtImage* src, int32_t x0, int32_t y0, int32_t width, int32_t height,
                      uint8_t* dst);
  /* Quarter turns clockwise (1..3), as numpy rot90(k=-turns) on HWC. dst [w', h', 3] after turning. */
  MmrtStatus* (*rotate)(const MmrtImage* src, int32_t quarter_turns_clockwise, uint8_t* dst);
  /* PIL convert("L"). dst [h, w]. */
  MmrtStatus* (*to_grey)(const MmrtImage* src, uint8_t* dst);
  /* Float pixels in transformers' numpy order of operations: x = float32(float64(u8) * rescale_factor)
   * (rescale_factor 0: x = float32(u8)), then (x - mean[c]) / std[c] in float32 when mean and std are not
   * NULL. layout MMRT_LAYOUT_*. dst [3, h, w] or [h, w, 3] f32. */
  MmrtStatus* (*normalize)(const MmrtImage* src, double rescale_factor, const float* mean, const float* std,
                           int32_t layout, float* dst);
} MmrtImageApi;

/* ---------------------------------------------------------------------------------------------------------
 * Weights: the host memory-maps the checkpoint and hands out read-only tensors on the compute device in
 * the compute dtype (converting once at first request), or [1.1] in a dtype the plugin asks for. An object
 * is {iface, context}.
 */
typedef struct MmrtWeights MmrtWeights; /* opaque, host-owned, valid until destroy of the instance */

typedef struct MmrtWeightsApi {
  MMRT_STRUCT_PREFIX;
  /* [thread-safe] The tensor named `name` (safetensors key, as in the checkpoint). NOT_FOUND when absent.
   * The view (data and shape) stays valid until destroy. Every tensor a plugin gets is marked used. */
  MmrtStatus* (*get)(MmrtWeights* weights, const char* name, MmrtTensor* out);
  /* [thread-safe] 1 when the checkpoint has `name`, else 0. Does not mark it used. */
  int32_t (*contains)(MmrtWeights* weights, const char* name);
  /* [thread-safe] Checkpoint tensor names, sorted; i < count. The string is valid until destroy. */
  uint64_t (*count)(MmrtWeights* weights);
  const char* (*name_at)(MmrtWeights* weights, uint64_t i);
  /* Marks a tensor as deliberately unused (e.g. "vision_tower.vision_model.post_layernorm.weight"), so the
   * host's check that every checkpoint tensor is claimed does not fail on it. */
  void (*ignore)(MmrtWeights* weights, const char* name);
  /* [1.1] [thread-safe] Like get, in `dtype`: f32/bf16/f16 for float tensors (fp32 modules under a bf16
   * compute dtype), the stored integer type for integer buffers. dtype {0, 0, 0} asks for the checkpoint's
   * own dtype: on the CPU that view points into the read-only mapping (no copy), the form linear and
   * embedding take for weights. Views of one name in different dtypes may coexist. */
  MmrtStatus* (*get_as)(MmrtWeights* weights, const char* name, MmrtDataType dtype, MmrtTensor* out);
} MmrtWeightsApi;

/* ---------------------------------------------------------------------------------------------------------
 * Plugin side.
 */
typedef struct MmrtInstance MmrtInstance; /* opaque, plugin-owned */

#define MMRT_ROLE_PROCESSOR "mmrt.role.processor/1"
#define MMRT_ROLE_ENCODER "mmrt.role.encoder/1"
#define MMRT_ROLE_PADDER "mmrt.role.padder/1"
#define MMRT_ROLE_DECODER "mmrt.role.decoder/1"

typedef struct MmrtPluginDescriptor {
  MMRT_STRUCT_PREFIX;
  const char* id;                   /* reverse DNS, e.g. "org.mmrt.llava" */
  const char* version;              /* semver */
  const char* const* architectures; /* Hugging Face config.json "architectures" strings it serves */
  uint32_t n_architectures;
  const char* const* roles; /* MMRT_ROLE_* ids offered */
  uint32_t n_roles;
} MmrtPluginDescriptor;

/* What the host passes to create one model instance. Everything is borrowed for the call unless said. */
typedef struct MmrtCreateArgs {
  MMRT_STRUCT_PREFIX;
  const char* architecture; /* one of the descriptor's */
  const char* model_dir;    /* the checkpoint folder, for files the plugin reads itself */
  const char* config_json;  /* config.json text */
  uint64_t config_json_len;
  const char* preprocessor_config_json; /* normalised (v4 flat) image processor settings, or "{}" */
  uint64_t preprocessor_config_json_len;
  const MmrtWeightsApi* weights_api; /* valid until destroy */
  MmrtWeights* weights;              /* valid until destroy */
  MmrtDevice device;                 /* where the encoder and decoder compute */
  MmrtDataType compute_dtype;        /* f32 on CPU; bf16 or f16 on CUDA */
} MmrtCreateArgs;

/* processor role: [thread-safe], CPU. One media item in, its tensors out. */
typedef struct MmrtProcessArgs {
  MMRT_STRUCT_PREFIX;
  const MmrtImage* image;
  MmrtProcessorOutput* out;
} MmrtProcessArgs;

typedef struct MmrtProcessorRole {
  MMRT_STRUCT_PREFIX;
  MmrtStatus* (*process)(MmrtInstance* instance, const MmrtProcessArgs* args);
  /* Every setting that changes process()'s output, canonical; valid until destroy. The host hashes it
   * with the media bytes to key its caches. NULL is a load error. */
  const char* (*fingerprint)(MmrtInstance* instance);
  /* [1.1] The same, able to fail; the host prefers it when present. */
  MmrtStatus* (*get_fingerprint)(MmrtInstance* instance, const char** out);
} MmrtProcessorRole;

/* [1.1] One media item's metadata: the processor's outputs other than pixel_values, in the order written.
 * Host memory, borrowed for the call. */
typedef struct MmrtItemData {
  MMRT_STRUCT_PREFIX;
  int32_t n_tensors;
  const char* const* names;         /* [n_tensors] */
  const MmrtTensor* const* tensors; /* [n_tensors], CPU */
} MmrtItemData;

/* encoder role: [serialized-per-instance]. Items of one batch are concatenated along dim 0 as the
 * processor produced them. */
typedef struct MmrtEncodeArgs {
  MMRT_STRUCT_PREFIX;
  int32_t n_items;
  const MmrtTensor* pixel_values;   /* f32 processor outputs concatenated along dim 0, on the device */
  const MmrtTensor* image_grid_thw; /* [n_items, 3] int64 on the CPU, or NULL */
  const int64_t* item_n_tokens;     /* [n_items] rows each item yields (the processor's n_tokens) */
  MmrtTensor* embeds;               /* [Σ item_n_tokens, embed_dim] compute dtype, host-allocated */
  const MmrtStream* stream;
  const int64_t* item_pixel_rows;       /* [1.1] [n_items] dim-0 rows of pixel_values of each item */
  const MmrtItemData* const* item_data; /* [1.1] [n_items] */
} MmrtEncodeArgs;

typedef struct MmrtEncoderRole {
  MMRT_STRUCT_PREFIX;
  /* Width of the embeddings the encoder writes (the language model's hidden size for LLaVA). A value
   * <= 0 is a load error. */
  int64_t (*embed_dim)(MmrtInstance* instance);
  MmrtStatus* (*encode)(MmrtInstance* instance, const MmrtEncodeArgs* args);
  /* [1.1] embed_dim, able to fail; the host prefers it when present. */
  MmrtStatus* (*get_embed_dim)(MmrtInstance* instance, int64_t* out);
} MmrtEncoderRole;

/* padder role: [thread-safe], pure. Expands each placeholder to its item's n_tokens and reports ranges.
 * The host computes content hashes from the ranges; plugins never hash. */
typedef struct MmrtPlaceholderRange {
  int64_t item;   /* index into the request's media items */
  int64_t offset; /* first token of the run in the expanded ids */
  int64_t length; /* run length (rows of that item's embeddings injected there) */
} MmrtPlaceholderRange;

typedef struct MmrtPadArgs {
  MMRT_STRUCT_PREFIX;
  const int32_t* ids; /* the tokenized prompt; borrowed */
  int64_t n_ids;
  const int64_t* item_n_tokens; /* [n_items] from the processor; borrowed */
  int64_t n_items;
  const MmrtImage* const* images; /* [n_items] the items' sizes, for models whose runs depend on them */
  void* host_ctx;
  /* Hands the result to the host, which copies it. Must be called exactly once on success. */
  MmrtStatus* (*emit)(void* host_ctx, const int32_t* ids, int64_t n_ids, const MmrtPlaceholderRange* ranges,
                      int64_t n_ranges);
  /* Optional (multimodal RoPE models): positions [3, n_ids] int32 (t, h, w rows) and the offset that
   * turns a generated token's index into its position (position = index + next_position_delta). */
  MmrtStatus* (*emit_positions)(void* host_ctx, const int32_t* positions3, int64_t n_ids,
                                int64_t next_position_delta);
  const MmrtItemData* const* item_data; /* [1.1] [n_items] */
  /* [1.1] Encoder-decoder models (MmrtKvSpec.n_cross_layer > 0): the encoder-side tokens and where the
   * items' embeddings go in them (BLIP-2-T5: query rows before the prompt ids). emit then carries the
   * decoder prompt that follows decoder_start_token_id, which the host always puts first (usually empty:
   * emit(NULL, 0, NULL, 0)). A model whose encoder memory is the items' embeddings alone (Nougat) need not
   * call emit_encoder_input: the host then takes the items in order as the memory. */
  MmrtStatus* (*emit_encoder_input)(void* host_ctx, const int32_t* ids, int64_t n_ids,
                                    const MmrtPlaceholderRange* ranges, int64_t n_ranges);
} MmrtPadArgs;

typedef struct MmrtPadderRole {
  MMRT_STRUCT_PREFIX;
  MmrtStatus* (*expand)(MmrtInstance* instance, const MmrtPadArgs* args);
} MmrtPadderRole;

/* decoder role: [serialized-per-instance]. One forward over a batch of sequences, prefill chunks and
 * decode steps mixed, with the host's paged KV cache. */
typedef struct MmrtKvSpec {
  MMRT_STRUCT_PREFIX;
  int32_t n_layer; /* self-attention layers with a cache */
  int32_t n_head_kv;
  int32_t head_dim;
  MmrtDataType dtype;
  int32_t n_cross_layer; /* encoder-decoder models: layers with cross-attention, else 0 */
  int32_t position_axes; /* 1, or 3 for multimodal RoPE ([3, n_tokens] positions) */
  int64_t vocab_size;    /* logits row width */
  int64_t hidden_size;   /* width of injected embeddings */
  int64_t max_position;  /* longest sequence the model supports */
  /* [1.1] Encoder-decoder models. Outside struct_size: decoder_start_token_id from config.json, cross
   * geometry equal to the self geometry, memory_dim = hidden_size, max_encoder_len = max_position. */
  int32_t decoder_start_token_id;
  int32_t cross_n_head_kv;
  int32_t cross_head_dim;
  int64_t memory_dim;      /* width of encoder memory rows (encoder_states) */
  int64_t max_encoder_len; /* longest encoder memory */
} MmrtKvSpec;

typedef struct MmrtDecodeArgs {
  MMRT_STRUCT_PREFIX;
  int64_t n_tokens;
  const MmrtTensor* input_ids; /* [n_tokens] int32; rows of embeds_rows are overwritten */
  const MmrtTensor* positions; /* [n_tokens] or [3, n_tokens] int32 */
  const MmrtBatchLayout* layout;
  const MmrtKvLayer* kv;           /* [n_layer] self-attention cache */
  const int32_t* query_start_host; /* host copies of layout->query_start and seq_lens */
  const int32_t* seq_lens_host;
  const MmrtTensor* embeds;      /* [n_embeds, hidden_size] multimodal rows to inject, or NULL */
  const MmrtTensor* embeds_rows; /* [n_embeds] int32 token rows of this batch they replace */
  const MmrtTensor* logits_rows; /* [n_logits] int32 token rows whose logits are wanted */
  MmrtTensor* logits;            /* [n_logits, vocab_size] f32, host-allocated */
  /* Encoder-decoder models (n_cross_layer > 0). encoder_states [n_rows, memory_dim] holds the memory of
   * the sequences whose cross K/V are not cached yet (their first step, unless another request with the
   * same encoder input filled them), in batch order, or is NULL when none is; the plugin projects every
   * row to cross K/V and stores them at cross_layout->slot_mapping (one entry per encoder_states row)
   * before attending. cross_layout->query_start and ->seq_lens describe the decoder rows and the encoder
   * lengths, ->block_tables the cross blocks; cross attention reads them with paged_attention_ex
   * (causal 0). */
  const MmrtTensor* encoder_states;
  const MmrtBatchLayout* cross_layout;
  const MmrtKvLayer* cross_kv; /* [n_cross_layer] */
  const MmrtStream* stream;
} MmrtDecodeArgs;

/* [1.1] Encoder input of encoder-decoder models -> encoder memory (the T5 encoder stack). */
typedef struct MmrtMemoryArgs {
  MMRT_STRUCT_PREFIX;
  int32_t n_seqs;
  int64_t n_tokens;
  const MmrtTensor* input_ids;     /* [n_tokens] int32, every sequence's encoder-side ids */
  const int32_t* query_start_host; /* [n_seqs + 1] rows of each sequence */
  const MmrtTensor* embeds;        /* [n_embeds, hidden_size] rows to inject, or NULL */
  const MmrtTensor* embeds_rows;   /* [n_embeds] int32 rows they replace */
  MmrtTensor* memory;              /* [n_tokens, memory_dim] compute dtype, host-allocated */
  const MmrtStream* stream;
} MmrtMemoryArgs;

typedef struct MmrtDecoderRole {
  MMRT_STRUCT_PREFIX;
  /* [thread-safe] What the host must allocate for this model's KV cache. */
  MmrtStatus* (*kv_spec)(MmrtInstance* instance, MmrtKvSpec* out);
  MmrtStatus* (*forward)(MmrtInstance* instance, const MmrtDecodeArgs* args);
  /* [1.1] Encoder-decoder models whose memory is computed from the encoder input (T5); it lives in the
   * decoder role because encoder and decoder share weights (T5's shared embedding). NULL: the memory is the
   * items' embeddings concatenated in item order (Nougat). */
  MmrtStatus* (*encode_memory)(MmrtInstance* instance, const MmrtMemoryArgs* args);
} MmrtDecoderRole;

typedef struct MmrtPluginApi {
  MMRT_STRUCT_PREFIX;
  MmrtAbiVersion abi; /* {MMRT_ABI_MAJOR, built minor, oldest host minor needed} */
  const MmrtPluginDescriptor* descriptor;
  /* [loader-thread] Once after entry, before create. Must tolerate repeated calls. */
  MmrtStatus* (*init)(void);
  /* [loader-thread] After every instance is destroyed: join threads, free caches. */
  void (*shutdown)(void);
  /* [loader-thread] One model instance for `args->architecture`. Reads weights now; all roles of the
   * instance share them. */
  MmrtStatus* (*create)(const MmrtCreateArgs* args, MmrtInstance** out);
  /* [loader-thread] Frees the instance; role tables and views it handed out become invalid. */
  void (*destroy)(MmrtInstance* instance);
  /* [thread-safe] The role table for MMRT_ROLE_* `role_id` (MmrtProcessorRole, ...), const and valid
   * until destroy; NULL when the instance does not offer it. */
  const void* (*get_role)(MmrtInstance* instance, const char* role_id);
} MmrtPluginApi;

/* The one exported symbol. The host calls it once per load [loader-thread]; the plugin keeps `host` and
 * returns its table (static, valid until unload). A plugin that cannot work with host->abi returns
 * MMRT_STATUS_UNSUPPORTED_VERSION. No other work belongs here: no CUDA, threads or I/O. */
typedef MmrtStatus* (*MmrtPluginEntryFn)(const MmrtHostApi* host, const MmrtPluginApi** out);
#define MMRT_PLUGIN_ENTRY_SYMBOL "mmrt_plugin_entry_v1"

#ifdef __cplusplus
}
#endif

#endif /* MMRT_ABI_H_ */
