/** The trainer: configuration, optimizer, schedules, checkpoints, guards, reporting and the training loop. */
export { AdamW, clipFactor, globalNorm, sumSquares, type AdamWOptions, type AdamWState } from "./optimizer.ts";
export { learningRate, warmupSteps, type ScheduleOptions } from "./schedule.ts";
export {
  ConfigError,
  helpText,
  parseCommandLine,
  resolveConfig,
  TrainConfigSchema,
  RULES as CONFIG_RULES,
  SCHEDULES,
  type TrainConfig,
} from "./config.ts";
export { PRESET_NAMES, presetValues, nonEmbeddingParams, type PresetName } from "./presets.ts";
export { loadCheckpoint, saveCheckpoint, listCheckpoints, resolveResume, type Checkpoint, type CheckpointState } from "./checkpoint.ts";
export { encodeSafetensors, decodeSafetensors, readSafetensors, type NamedTensor } from "./safetensors.ts";
export { OutlierDetector, TrainingError } from "./guards.ts";
export { MetricsLog, type StepRecord } from "./metrics.ts";
export { lossPlotSvg } from "./plot.ts";
export { measureGemmRate, trainingFlopsPerToken } from "./mfu.ts";
export { generate, modelFromCheckpoint, pickToken, type SampleOptions } from "./sample.ts";
export { train, formatSummary, modelVocab, type TrainHooks, type TrainSummary, type ModelExtraState } from "./trainer.ts";
export { main, resolveRun } from "./cli.ts";
