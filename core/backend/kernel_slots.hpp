// The slots of MmrtKernels, in declaration order: the one list the CPU, CUDA and dispatch tables are built
// from. Adding an op: its slot here, its contract in kernel_contracts.cpp, and one function named like the
// slot in each backend (cpu_kernels.cpp, cuda_kernels.cpp); the tables pick it up by name.
#pragma once

#include "plugin_api/mmrt_abi.h"

#define MMRT_KERNEL_SLOTS(X) \
  X(linear)                  \
  X(embedding)               \
  X(layer_norm)              \
  X(rms_norm)                \
  X(activation)              \
  X(silu_mul)                \
  X(add)                     \
  X(rope)                    \
  X(attention)               \
  X(kv_cache_write)          \
  X(paged_attention)         \
  X(patch_embed)             \
  X(copy)                    \
  X(gather_rows)             \
  X(scatter_rows)            \
  X(scale)                   \
  X(gated_activation)        \
  X(paged_attention_ex)      \
  X(attention_varlen)

#define MMRT_KERNEL_LAST_SLOT attention_varlen

// An entry of MMRT_KERNEL_TABLE: slot `s` is the function `s` of the enclosing namespace.
#define MMRT_KERNEL_BY_NAME(slot) .slot = slot,

// A complete MmrtKernels initialiser with ENTRY(slot) for every slot.
#define MMRT_KERNEL_TABLE(ENTRY)                                                                 \
  MmrtKernels {                                                                                  \
    .struct_size = MMRT_SIZEOF(MmrtKernels, MMRT_KERNEL_LAST_SLOT), .flags = 0, .next = nullptr, \
    MMRT_KERNEL_SLOTS(ENTRY)                                                                     \
  }
