/** A real but small LanguageModel for the trainer's tests: a factored bigram model, logits = P (s * E[x]), with
 * an embedding E [V, d] (not decayed) and a projection P [V, d] (decayed, like a linear weight), computed in
 * TypeScript on the CPU. It also keeps a "delayed" statistic between steps (the previous step's max |E[x]|,
 * which sets the scale s of the next step, as delayed abs-max does) through the extraState hooks, and can be
 * told to produce a NaN or a spike at a given step so the guards can be exercised. */
import { Tensor } from "../../src/index.ts";
import { uniform } from "../../src/data/keyed_random.ts";
import type { LanguageModel, ModelConfig, Parameter, StepStats } from "../../src/model/types.ts";

export interface BigramFaults {
  /** key.step values whose loss is NaN */
  nanLossAt?: number[];
  /** key.step values with an Inf in the projection's gradient */
  infGradAt?: number[];
  /** key.step values whose gradients are multiplied by 1000 (and loss by 5) */
  spikeAt?: number[];
}

function view(t: Tensor): Float32Array {
  const h = t.handle as Uint8Array;
  return new Float32Array(h.buffer, h.byteOffset, t.numel);
}

export class BigramModel implements LanguageModel {
  readonly config: ModelConfig;
  readonly dim: number;
  readonly faults: BigramFaults;
  readonly #params: Parameter[];
  #prevAmax = 1;
  trainCalls = 0;

  constructor(config: ModelConfig, dim = 16, faults: BigramFaults = {}) {
    if (config.device !== "cpu") throw new Error("BigramModel runs on the CPU only");
    this.config = config;
    this.dim = dim;
    this.faults = faults;
    const V = config.vocabSize;
    const init = (name: string, stream: number, decay: boolean): Parameter => {
      const values = new Float32Array(V * dim);
      for (let i = 0; i < values.length; ++i) {
        // Box-Muller from keyed uniforms: N(0, 0.02^2) as the papers' init.
        const u1 = uniform(config.initSeed, stream, i, 1) || 1e-300, u2 = uniform(config.initSeed, stream, i, 2);
        values[i] = 0.02 * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
      }
      return { name, data: Tensor.fromFloat32(values, [V, dim]), grad: Tensor.zeros([V, dim]), decay };
    };
    this.#params = [init("embed", 1, false), init("proj", 2, true)];
  }

  parameters(): Parameter[] {
    return this.#params;
  }

  zeroGrad(): void {
    for (const p of this.#params) view(p.grad).fill(0);
  }

  nonEmbeddingParams(): number {
    return this.config.vocabSize * this.dim;
  }

  extraState(): Record<string, number[]> {
    return { prevAmax: [this.#prevAmax] };
  }

  loadExtraState(s: Record<string, number[]>): void {
    this.#prevAmax = s.prevAmax![0]!;
  }

  /** Softmax cross-entropy of every position; with grads, accumulates dE and dP (mean over positions). */
  #run(tokens: Int32Array, targets: Int32Array | null, grads: boolean, lastOnly = false): { loss: number; logits: Float32Array } {
    const V = this.config.vocabSize, d = this.dim;
    const E = view(this.#params[0]!.data), P = view(this.#params[1]!.data);
    const dE = view(this.#params[0]!.grad), dP = view(this.#params[1]!.grad);
    const T = this.config.seqLen;
    const n = tokens.length;
    const s = 1 / (1 + 0.01 * this.#prevAmax);
    const logits = new Float64Array(V);
    const lastLogits = new Float32Array(lastOnly ? (n / T) * V : 0);
    let loss = 0, amax = 0;
    for (let i = 0; i < n; ++i) {
      if (lastOnly && i % T !== T - 1) continue;
      const x = tokens[i]!;
      let max = -Infinity;
      for (let v = 0; v < V; ++v) {
        let acc = 0;
        for (let k = 0; k < d; ++k) acc += P[v * d + k]! * E[x * d + k]! * s;
        logits[v] = acc;
        if (acc > max) max = acc;
      }
      if (lastOnly) {
        for (let v = 0; v < V; ++v) lastLogits[((i - (T - 1)) / T) * V + v] = logits[v]!;
        continue;
      }
      for (let k = 0; k < d; ++k) amax = Math.max(amax, Math.abs(E[x * d + k]!));
      let z = 0;
      for (let v = 0; v < V; ++v) z += Math.exp(logits[v]! - max);
      const y = targets![i]!;
      loss += max + Math.log(z) - logits[y]!;
      if (!grads) continue;
      for (let v = 0; v < V; ++v) {
        const g = (Math.exp(logits[v]! - max) / z - (v === y ? 1 : 0)) / n;
        if (g === 0) continue;
        for (let k = 0; k < d; ++k) {
          dP[v * d + k]! += g * E[x * d + k]! * s;
          dE[x * d + k]! += g * P[v * d + k]! * s;
        }
      }
    }
    if (grads) this.#prevAmax = amax;
    return { loss: loss / n, logits: lastLogits };
  }

  trainStep(tokens: Int32Array, targets: Int32Array, key: { seed: number; step: number }): StepStats {
    this.trainCalls += 1;
    let { loss } = this.#run(tokens, targets, true);
    const f = this.faults;
    if (f.nanLossAt?.includes(key.step)) loss = Number.NaN;
    if (f.infGradAt?.includes(key.step)) view(this.#params[1]!.grad)[3] = Number.POSITIVE_INFINITY;
    if (f.spikeAt?.includes(key.step)) {
      for (const p of this.#params) for (const [i, g] of view(p.grad).entries()) view(p.grad)[i] = g * 1000;
      loss *= 5;
    }
    return { loss };
  }

  evalLoss(tokens: Int32Array, targets: Int32Array): number {
    return this.#run(tokens, targets, false).loss;
  }

  lastLogits(tokens: Int32Array): Float32Array {
    return this.#run(tokens, null, false, true).logits;
  }

  dispose(): void {
    for (const p of this.#params) {
      p.data.dispose();
      p.grad.dispose();
    }
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
