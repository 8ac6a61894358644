/** Training presets: the model shapes of src/model/presets.ts ("tiny" for the CPU, the papers' 30M / 50M /
 * 100M / 200M) with their training setup (numerics.md §7: sequence 512, 512 sequences per step, AdamW
 * 0.9 / 0.95, weight decay 0.1, clipping 1.0, the OneCycle schedule, D = 100 N tokens). A preset only fills
 * defaults: the config file and the flags override any field. */
import type { Recipe } from "../linear.ts";
import { nonEmbeddingParamsOf, PRESETS, PRESET_NAMES as MODEL_PRESET_NAMES, type PresetName as ModelPresetName } from "../model/presets.ts";

export const PRESET_NAMES = MODEL_PRESET_NAMES as readonly ModelPresetName[] as readonly [ModelPresetName, ...ModelPresetName[]];
export type PresetName = ModelPresetName;

export interface ModelShape {
  dModel: number;
  nLayers: number;
  nHeads: number;
  mlpHidden: number;
}

/** Non-embedding parameters (numerics.md §7; 30M -> 30,482,560). */
export function nonEmbeddingParams(s: ModelShape): number {
  return nonEmbeddingParamsOf(s);
}

export interface PresetValues extends ModelShape {
  seq: number;
  batch: number;
  gradAccum: number;
  steps: number;
  lr: number;
  schedule: "onecycle" | "cosine" | "constant";
  evalEvery: number;
  evalBatches: number;
  checkpointEvery: number;
  tokenizer: "byte" | "gpt2" | null;
  logEvery: number;
}

/** Global batch of the papers: 512 sequences of 512 tokens. */
export const PAPER_GLOBAL_BATCH = 512;
/** Training tokens per non-embedding parameter of the presets (the papers sweep 25..800; 100 is their middle). */
export const PAPER_TOKENS_PER_PARAM = 100;

/** Default values of a preset for a recipe (the papers' LR depends on it: Quartet v1's column for quartet1). */
export function presetValues(name: PresetName, recipe: Recipe): PresetValues {
  const arch = PRESETS[name];
  const shape: ModelShape = { dModel: arch.dModel, nLayers: arch.nLayers, nHeads: arch.nHeads, mlpHidden: arch.mlpHidden };
  const lr = recipe === "quartet1" ? arch.lr.quartet1 : arch.lr.quartet2;
  if (name === "tiny") {
    // byte-level; 8 x 128 = 1024 tokens per step: every quantized GEMM dimension is a multiple of 128, as
    // Quartet II's kernels require. Sized to finish in a few minutes on 2 CPU cores.
    return { ...shape, seq: arch.seqLen, batch: 8, gradAccum: 1, steps: 600, lr, schedule: "onecycle", evalEvery: 100, evalBatches: 8,
      checkpointEvery: 200, tokenizer: null, logEvery: 25 };
  }
  // Micro-batches sized for one 80 GB GPU; accumulation keeps the global batch at 512 sequences.
  const batch = arch.dModel <= 768 ? 64 : 32;
  const tokensPerStep = arch.seqLen * PAPER_GLOBAL_BATCH;
  return {
    ...shape,
    seq: arch.seqLen,
    batch,
    gradAccum: PAPER_GLOBAL_BATCH / batch,
    steps: Math.max(1, Math.round((nonEmbeddingParams(shape) * PAPER_TOKENS_PER_PARAM) / tokensPerStep)),
    lr,
    schedule: "onecycle",
    evalEvery: 250,
    evalBatches: 16,
    checkpointEvery: 1000,
    tokenizer: "gpt2",
    logEvery: 10,
  };
}
