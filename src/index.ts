/** quartet-ii: NVFP4 / MXFP4 fully-quantized training kernels (Quartet II, Quartet) for Bun. */
export { QuartetError, type StatusName } from "./errors.ts";
export { Tensor, deviceMemoryInUse, type Device, type DType, type TensorOptions } from "./tensor.ts";
export {
  quantize,
  dequantize,
  requantize,
  rht,
  rhtSigns,
  absmax,
  tensorTag,
  QuantizedTensor,
  ROLE,
  ROUNDING,
  BLOCK_SIZE,
  type Nvfp4Tensor,
  type Format,
  type Rounding,
  type ScaleLayout,
  type QuantizeOptions,
  type RequantizeOptions,
  type RhtOptions,
} from "./quantize.ts";
export { fp4Gemm, nvfp4Gemm, gemm, type Fp4GemmOptions, type GemmOptions } from "./gemm.ts";
export { QuartetLinear, RECIPES, LinearOptionsSchema, recipeFor, type Recipe, type LinearOptions, type PrecisionPolicy, type StepKey } from "./linear.ts";
export * as formats from "./formats.ts";
export { buildInfo, cudaAvailable, setCpuThreads, cpuThreads, synchronize, type BuildInfo } from "./info.ts";
export { native, check } from "./native/ffi.ts";
export { LlamaModel, createLlama } from "./model/llama.ts";
export { PRESETS as MODEL_PRESETS, modelConfig, type PresetName as ModelPresetName } from "./model/presets.ts";
export type { LanguageModel, ModelConfig, Parameter } from "./model/types.ts";
export * as train from "./train/index.ts";
export * as data from "./data/index.ts";
