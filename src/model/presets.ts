/** Model sizes: the papers' Llama-style configurations (numerics.md §7) and a tiny byte-level one for CPU runs
 * and tests. An architecture preset plus the run's choices (recipe, device, batch, seed) make a ModelConfig. */
import { argumentError } from "../errors.ts";
import type { ModelConfig } from "./types.ts";

export interface ArchPreset {
  vocabSize: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  mlpHidden: number;
  seqLen: number;
  /** peak learning rates the papers used (numerics.md §7 table); tiny: a value that trains on CPU */
  lr: { quartet2: number; quartet1: number };
}

/** SwiGLU hidden size of the papers' code: 256 * ceil(floor(8d/3) / 256). */
export function mlpHiddenFor(dModel: number): number {
  return 256 * Math.ceil(Math.floor((8 * dModel) / 3) / 256);
}

const paper = (nLayers: number, dModel: number, nHeads: number, q2: number, q1: number): ArchPreset => ({
  vocabSize: 32000,
  dModel,
  nLayers,
  nHeads,
  mlpHidden: mlpHiddenFor(dModel),
  seqLen: 512,
  lr: { quartet2: q2, quartet1: q1 },
});

export const PRESETS = {
  /** 2 layers, d 128, one head of 128, SwiGLU 384, 128 tokens, byte-level vocabulary: trains on a CPU */
  tiny: { vocabSize: 256, dModel: 128, nLayers: 2, nHeads: 1, mlpHidden: 384, seqLen: 128, lr: { quartet2: 3e-3, quartet1: 3e-3 } },
  "30M": paper(6, 640, 5, 1.2e-3, 1.2e-3),
  "50M": paper(7, 768, 6, 1.2e-3, 1.2e-3),
  "100M": paper(8, 1024, 8, 9.0e-4, 6.0e-4),
  "200M": paper(10, 1280, 10, 7.2e-4, 3.0e-4),
} as const satisfies Record<string, ArchPreset>;

export type PresetName = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

/** A full ModelConfig from a preset and the run's choices (recipe default "quartet2", device "cpu", batch 1, seed 0). */
export function modelConfig(name: PresetName, run: Partial<ModelConfig> = {}): ModelConfig {
  const p: ArchPreset | undefined = PRESETS[name];
  if (!p) throw argumentError("modelConfig", "name", `one of ${PRESET_NAMES.map((n) => JSON.stringify(n)).join(", ")}`, name);
  return {
    vocabSize: p.vocabSize,
    dModel: p.dModel,
    nLayers: p.nLayers,
    nHeads: p.nHeads,
    mlpHidden: p.mlpHidden,
    seqLen: p.seqLen,
    recipe: "quartet2",
    device: "cpu",
    batchSize: 1,
    initSeed: 0,
    ...run,
  };
}

/** Non-embedding parameters (numerics.md §7: everything but the token embedding and the LM head; the
 * norms count). The papers' 30M configuration has 30,482,560. */
export function nonEmbeddingParamsOf(c: Pick<ModelConfig, "dModel" | "nLayers" | "mlpHidden">): number {
  const d = c.dModel, h = c.mlpHidden;
  const block = 3 * d * d + d * d + 2 * h * d + h * d + 2 * d;
  return c.nLayers * block + d;
}
