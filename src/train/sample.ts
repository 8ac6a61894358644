/** Text generation from a trained model: greedy (topK = 1) or top-k sampling with temperature, one token at a
 * time through LanguageModel.lastLogits over the last seqLen tokens of the context. Random draws are keyed by
 * (seed, position), so the same seed gives the same text. */
import { uniform } from "../data/keyed_random.ts";
import type { LanguageModel, ModelConfig } from "../model/types.ts";
import type { Device } from "../tensor.ts";
import type { TrainConfig } from "./config.ts";
import { copyInto } from "./optimizer.ts";

export interface SampleOptions {
  maxNewTokens: number;
  /** 1 = greedy; k > 1 samples among the k most likely tokens */
  topK: number;
  temperature: number;
  seed: number;
  /** ids >= this are never produced (the model's vocabulary may be padded past the tokenizer's) */
  vocabSize: number;
  /** fills the context on the left while it is shorter than the model's sequence length */
  padToken: number;
  /** stop early when this id is produced */
  stopToken?: number | null;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** Index of the largest value (the lowest index on ties). */
export function argmax(values: ArrayLike<number>, n = values.length): number {
  let best = 0;
  for (let i = 1; i < n; ++i) if (values[i]! > values[best]!) best = i;
  return best;
}

/** Picks a token from logits: greedy for topK <= 1, else top-k sampling at `temperature` with uniform u. */
export function pickToken(logits: ArrayLike<number>, n: number, topK: number, temperature: number, u: number): number {
  if (topK <= 1 || temperature <= 0) return argmax(logits, n);
  const ids = Array.from({ length: n }, (_, i) => i)
    .sort((a, b) => logits[b]! - logits[a]! || a - b)
    .slice(0, Math.min(topK, n));
  const top = logits[ids[0]!]!;
  const weights = ids.map((i) => Math.exp((logits[i]! - top) / temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let acc = 0;
  for (let j = 0; j < ids.length; ++j) {
    acc += weights[j]! / total;
    if (u < acc) return ids[j]!;
  }
  return ids[ids.length - 1]!;
}

/** The ids generated after `prompt`. */
export function generate(model: LanguageModel, prompt: readonly number[], o: SampleOptions): number[] {
  const T = model.config.seqLen;
  // Sequences per call: enough copies that the token count is a multiple of 128 (Quartet II's GEMM rule).
  const rows = Math.min(128 / gcd(T, 128), model.config.batchSize);
  const context = [...prompt];
  const out: number[] = [];
  const tokens = new Int32Array(rows * T);
  for (let k = 0; k < o.maxNewTokens; ++k) {
    const window = context.slice(-T);
    const pad = T - window.length;
    for (let r = 0; r < rows; ++r)
      for (let t = 0; t < T; ++t) tokens[r * T + t] = t < pad ? o.padToken : window[t - pad]!;
    const logits = model.lastLogits(tokens);
    const vocab = logits.length / rows;
    const next = pickToken(logits.subarray(0, vocab), Math.min(o.vocabSize, vocab), o.topK, o.temperature, uniform(o.seed, 0x5a4d, k));
    out.push(next);
    context.push(next);
    if (o.stopToken !== undefined && o.stopToken !== null && next === o.stopToken) break;
  }
  return out;
}

/** Builds a model from a checkpoint folder (its config and weights) for sampling or evaluation. */
export function modelFromCheckpoint(
  ck: { state: { config: Record<string, unknown> }; weights: Map<string, { dtype: string; shape: readonly number[]; data: Uint8Array }> },
  createModel: (c: ModelConfig) => LanguageModel,
  opts: { device: Device; vocabSize: number },
): LanguageModel {
  const c = ck.state.config as unknown as TrainConfig;
  const rows = 128 / gcd(c.seq, 128);
  const model = createModel({
    vocabSize: opts.vocabSize,
    dModel: c.dModel,
    nLayers: c.nLayers,
    nHeads: c.nHeads,
    mlpHidden: c.mlpHidden,
    seqLen: c.seq,
    recipe: c.recipe,
    device: opts.device,
    batchSize: Math.min(rows, c.batch),
    initSeed: c.seed,
  });
  try {
    for (const p of model.parameters()) {
      const w = ck.weights.get(p.name);
      if (!w || w.dtype !== "F32" || w.shape.join("x") !== p.data.shape.join("x"))
        throw new Error(`the checkpoint has no f32 tensor ${p.name} of shape [${p.data.shape.join(", ")}]`);
      copyInto(p.data, w.data, `checkpoint tensor ${p.name}`);
    }
  } catch (e) {
    model[Symbol.dispose]();
    throw e;
  }
  return model;
}
