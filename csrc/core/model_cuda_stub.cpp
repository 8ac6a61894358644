// model_cuda_stub.cpp — the CUDA model ops of a build without nvcc: the backend reports itself absent
// (the twin of cuda_stub.cpp for model_ops.h).
#ifndef QUARTET_HAVE_CUDA
#include "core/model_ops.h"
#include "core/status.h"

namespace quartet {
namespace cuda {

static int32_t absent(const char* what) {
  return fail(QUARTET_ERR_UNSUPPORTED, what, "this build of libquartet has no CUDA backend (built without nvcc)");
}

int32_t embedding_forward(const EmbeddingArgs&) { return absent("quartet_embedding_forward"); }
int32_t embedding_backward(const EmbeddingArgs&) { return absent("quartet_embedding_backward"); }
int32_t rmsnorm_forward(const RmsNormArgs&) { return absent("quartet_rmsnorm_forward"); }
int32_t rmsnorm_backward(const RmsNormArgs&) { return absent("quartet_rmsnorm_backward"); }
int32_t rope(const RopeArgs&) { return absent("quartet_rope"); }
int32_t attention_forward(const AttentionArgs&) { return absent("quartet_attention_forward"); }
int32_t attention_backward(const AttentionArgs&) { return absent("quartet_attention_backward"); }
int32_t swiglu_forward(const SwigluArgs&) { return absent("quartet_swiglu_forward"); }
int32_t swiglu_backward(const SwigluArgs&) { return absent("quartet_swiglu_backward"); }
int32_t add(const AddArgs&) { return absent("quartet_add"); }
int32_t cross_entropy(const CrossEntropyArgs&) { return absent("quartet_cross_entropy"); }

}  // namespace cuda
}  // namespace quartet
#endif
