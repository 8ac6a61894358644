// model_ops.h — the validated arguments of the model ops (numerics.md §7: embedding, RMSNorm, RoPE, causal
// attention, SwiGLU, residual add, cross-entropy) and the backend entry points that take them.
//
// csrc/core/model_api.cpp checks every argument at the C boundary and fills these structs; csrc/cpu/ and
// csrc/cuda/ implement the same functions over them. Shapes here are already checked. Tokens T = batch *
// seq; activations are row-major [T, width]; `dtype` fields are QUARTET_DTYPE_F32 or QUARTET_DTYPE_BF16.
#pragma once
#include <stdint.h>

#include "quartet.h"

namespace quartet {

struct EmbeddingArgs {
  const int32_t* tokens;   // [n] ids in [0, vocab)
  int64_t n, vocab, dim;
  const float* table;      // [vocab, dim] (forward)
  float* dtable;           // [vocab, dim] (backward: += )
  void* out;               // forward: [n, dim]
  const void* dout;        // backward: [n, dim]
  int32_t dtype;           // of out / dout
};

struct RmsNormArgs {
  const void* x;
  int32_t x_dtype;
  int64_t rows, dim;
  const float* weight;     // [dim]
  float eps;
  float* rstd;             // [rows]: written by the forward (nullable there), read by the backward
  void* y;                 // forward output
  int32_t y_dtype;
  const void* dy;          // backward input
  int32_t dy_dtype;
  void* dx;                // backward output (F32 when accumulate)
  int32_t dx_dtype;
  bool accumulate_dx;
  float* dweight;          // backward: += sum over rows
  float* scratch;          // backward: [ceil(rows / kNormPartialRows), dim]
};

struct RopeArgs {
  void* x;                 // rows of stride ld; rotated columns [0, heads * head_dim)
  int32_t dtype;
  int64_t rows, ld, heads, head_dim, seq_len;
  const float* cos;        // [seq_len, head_dim / 2]
  const float* sin;
  bool inverse;            // backward: the transposed rotation
};

struct AttentionArgs {
  int32_t dtype;
  int64_t batch, seq, heads, head_dim;
  const void* qkv;         // [batch * seq, 3 * heads * head_dim]: q | k | v, head h at columns h * head_dim
  void* out;               // forward: [batch * seq, heads * head_dim]
  float* lse;              // [batch, heads, seq]: written by the forward, read by the backward
  const void* out_saved;   // backward: the forward's out
  const void* dout;        // backward: dL/dout
  void* dqkv;              // backward: [batch * seq, 3 * heads * head_dim]
  float* delta;            // backward scratch: [batch, heads, seq]
};

struct SwigluArgs {
  const void* gu;          // [rows, 2 * hidden]: gate | up
  int32_t gu_dtype;
  int64_t rows, hidden;
  void* h;                 // forward: [rows, hidden]
  int32_t h_dtype;
  const void* dh;          // backward
  int32_t dh_dtype;
  void* dgu;               // backward: [rows, 2 * hidden]
  int32_t dgu_dtype;
};

struct AddArgs {           // y = y + x
  void* y;
  int32_t y_dtype;
  const void* x;
  int32_t x_dtype;
  int64_t n;
};

struct CrossEntropyArgs {
  void* logits;            // [rows, vocab], replaced by the gradient when compute_grad
  int32_t dtype;
  int64_t rows, vocab;
  const int32_t* targets;  // [rows], < 0 = ignored
  float grad_scale;
  float* losses;           // [rows]
  bool compute_grad;
};

#define QUARTET_MODEL_OPS(NS)                                                        \
  namespace NS {                                                                     \
  int32_t embedding_forward(const EmbeddingArgs& a);                                 \
  int32_t embedding_backward(const EmbeddingArgs& a);                                \
  int32_t rmsnorm_forward(const RmsNormArgs& a);                                     \
  int32_t rmsnorm_backward(const RmsNormArgs& a);                                    \
  int32_t rope(const RopeArgs& a);                                                   \
  int32_t attention_forward(const AttentionArgs& a);                                 \
  int32_t attention_backward(const AttentionArgs& a);                                \
  int32_t swiglu_forward(const SwigluArgs& a);                                       \
  int32_t swiglu_backward(const SwigluArgs& a);                                      \
  int32_t add(const AddArgs& a);                                                     \
  int32_t cross_entropy(const CrossEntropyArgs& a);                                  \
  }

QUARTET_MODEL_OPS(cpu)
QUARTET_MODEL_OPS(cuda)

}  // namespace quartet
