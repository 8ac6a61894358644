/** Batches from a token array: training sequences in a keyed shuffled order addressed by a single cursor (the
 * number of sequences consumed so far), and a fixed set of validation batches.
 *
 * Epoch e cuts the tokens into W windows of seqLen + 1 tokens starting at o_e + j * seqLen (o_e in [0, seqLen),
 * keyed by (seed, e), so epochs see different alignments; W = floor((N - seqLen) / seqLen) for every o_e) and
 * visits them in the order of a keyed permutation. Sequence k of the run is window perm_e(k mod W) of epoch
 * e = floor(k / W). Everything is a pure function of (seed, k): a checkpoint only has to store k. */
import { hash32, KeyedPermutation } from "./keyed_random.ts";

export interface Batch {
  /** [batch, seqLen] int32 inputs */
  tokens: Int32Array;
  /** [batch, seqLen] int32 next-token targets */
  targets: Int32Array;
}

const EPOCH_OFFSET_STREAM = 0x0ff5e7;
const EPOCH_PERMUTATION_STREAM = 0x9e7;

export class WindowSampler {
  readonly tokens: Uint16Array;
  readonly seqLen: number;
  readonly seed: number;
  /** windows per epoch */
  readonly windows: number;
  #epoch = -1;
  #perm: KeyedPermutation | null = null;
  #offset = 0;

  constructor(tokens: Uint16Array, seqLen: number, seed: number) {
    if (!Number.isSafeInteger(seqLen) || seqLen <= 0) throw new RangeError(`WindowSampler: seqLen must be a positive integer, got ${seqLen}`);
    const windows = Math.floor((tokens.length - seqLen) / seqLen);
    if (windows < 1)
      throw new Error(`the training split has ${tokens.length} tokens: too few for one sequence of ${seqLen} + 1 tokens (use more data or a shorter --seq)`);
    this.tokens = tokens;
    this.seqLen = seqLen;
    this.seed = seed >>> 0;
    this.windows = windows;
  }

  /** First token of the k-th training sequence of the run. */
  windowStart(k: number): number {
    const epoch = Math.floor(k / this.windows);
    if (epoch !== this.#epoch) {
      this.#epoch = epoch;
      this.#perm = new KeyedPermutation(this.windows, [this.seed, EPOCH_PERMUTATION_STREAM, epoch]);
      this.#offset = hash32(this.seed, EPOCH_OFFSET_STREAM, epoch) % this.seqLen;
    }
    return this.#offset + this.#perm!.at(k % this.windows) * this.seqLen;
  }

  /** The sequences cursor .. cursor + batch - 1 as one batch. */
  batch(cursor: number, batch: number, into?: Batch): Batch {
    const T = this.seqLen;
    const out = into ?? { tokens: new Int32Array(batch * T), targets: new Int32Array(batch * T) };
    for (let b = 0; b < batch; ++b) {
      const start = this.windowStart(cursor + b);
      for (let t = 0; t < T; ++t) {
        out.tokens[b * T + t] = this.tokens[start + t]!;
        out.targets[b * T + t] = this.tokens[start + t + 1]!;
      }
    }
    return out;
  }

  /** Epochs completed after `cursor` sequences (fractional). */
  epochs(cursor: number): number {
    return cursor / this.windows;
  }
}

/** Up to maxBatches validation batches: consecutive non-overlapping windows from the start of the split. */
export function validationBatches(val: Uint16Array, seqLen: number, batch: number, maxBatches: number): Batch[] {
  const windows = Math.floor((val.length - 1) / seqLen);
  const n = Math.min(maxBatches, Math.floor(windows / batch));
  if (n < 1)
    throw new Error(
      `the validation split has ${val.length} tokens: too few for one batch of ${batch} x ${seqLen} (lower --batch or --seq, or raise valFraction)`,
    );
  const out: Batch[] = [];
  for (let i = 0; i < n; ++i) {
    const tokens = new Int32Array(batch * seqLen), targets = new Int32Array(batch * seqLen);
    for (let b = 0; b < batch; ++b) {
      const start = (i * batch + b) * seqLen;
      for (let t = 0; t < seqLen; ++t) {
        tokens[b * seqLen + t] = val[start + t]!;
        targets[b * seqLen + t] = val[start + t + 1]!;
      }
    }
    out.push({ tokens, targets });
  }
  return out;
}

/** Entropy (nats per token) of the token frequencies: the loss of the best model that ignores context. */
export function unigramEntropy(tokens: Uint16Array): number {
  const counts = new Float64Array(65536);
  for (let i = 0; i < tokens.length; ++i) counts[tokens[i]!]! += 1;
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / tokens.length) * Math.log(c / tokens.length);
  return h;
}

/** Cross-entropy (nats per token) of `tokens` under the unigram distribution of `reference` with add-one
 * smoothing over `vocabSize` ids: the validation loss a context-free model would get. */
export function unigramCrossEntropy(reference: Uint16Array, tokens: Uint16Array, vocabSize: number): number {
  const counts = new Float64Array(vocabSize).fill(1);
  for (let i = 0; i < reference.length; ++i) counts[reference[i]!]! += 1;
  const total = reference.length + vocabSize;
  let h = 0;
  for (let i = 0; i < tokens.length; ++i) h -= Math.log(counts[tokens[i]!]! / total);
  return h / tokens.length;
}
