/** The contract between the model (src/model/) and the trainer (src/train/): a language model exposes its
 * parameters with their gradients and one fused forward+backward step; the trainer owns data, the optimizer,
 * schedules, checkpoints and reporting. */
import type { Tensor, Device } from "../tensor.ts";
import type { Recipe, PrecisionPolicy } from "../linear.ts";

export interface ModelConfig {
  vocabSize: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  /** SwiGLU hidden size (numerics.md §7: 256 * ceil(floor(8d/3) / 256) by default) */
  mlpHidden: number;
  seqLen: number;
  /** the recipe of the four linears of each block (embedding, norms, attention math, LM head stay BF16/FP32) */
  recipe: Recipe;
  policy?: PrecisionPolicy;
  /** Quartet II options of the block linears (src/linear.ts): MS-EDEN variant and delayed abs-max (§5.11) */
  edenVariant?: "A" | "B";
  delayedAmax?: boolean;
  device: Device;
  /** micro-batch size in sequences (buffers are preallocated for batch * seqLen tokens) */
  batchSize: number;
  initSeed: number;
}

export interface Parameter {
  /** e.g. "embed", "block0.qkv", "block0.norm1", "lm_head" */
  name: string;
  /** FP32 master weights */
  data: Tensor;
  /** FP32 gradient, same shape (accumulated by trainStep, cleared by zeroGrad) */
  grad: Tensor;
  /** decoupled weight decay applies only to linear weights (numerics.md §7) */
  decay: boolean;
}

export interface StepStats {
  /** mean cross-entropy over the batch's tokens (nats) */
  loss: number;
}

export interface LanguageModel extends Disposable {
  readonly config: ModelConfig;
  parameters(): Parameter[];
  zeroGrad(): void;
  /** Forward + backward of one micro-batch: tokens and targets are [batch, seqLen] int32 (host). Adds to the
   * gradients. seed/step key every random draw of the quantized backward. */
  trainStep(tokens: Int32Array, targets: Int32Array, key: { seed: number; step: number }): StepStats;
  /** Mean loss without gradients. */
  evalLoss(tokens: Int32Array, targets: Int32Array): number;
  /** Logits of the last position of each sequence: [batch, vocab] float32 (for sampling). */
  lastLogits(tokens: Int32Array): Float32Array;
  /** Non-embedding parameter count (numerics.md §7 convention). */
  nonEmbeddingParams(): number;
}
