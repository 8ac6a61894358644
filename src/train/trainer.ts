/** The training loop: data -> model.trainStep (forward + backward of every micro-batch) -> global gradient norm
 * -> guards (non-finite, outliers) -> clipping -> AdamW -> metrics, evaluation, checkpoints, progress; at the
 * end the loss plot, a sample and a summary. Everything that decides the trajectory is a function of the config
 * and of what a checkpoint stores, so a resumed run continues bit for bit on the CPU backend. */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { validationBatches, unigramCrossEntropy, unigramEntropy, WindowSampler, type Batch } from "../data/dataset.ts";
import { loadTokenData, type TokenData } from "../data/source.ts";
import { QuartetError } from "../errors.ts";
import { cudaAvailable, setCpuThreads } from "../info.ts";
import { check, native } from "../native/ffi.ts";
import type { LanguageModel, ModelConfig } from "../model/types.ts";
import type { Device } from "../tensor.ts";
import { CHECKPOINT_FORMAT, CHECKPOINT_VERSION, listCheckpoints, loadCheckpoint, saveCheckpoint, writeFileAtomic, type Checkpoint, type CheckpointState } from "./checkpoint.ts";
import type { TrainConfig } from "./config.ts";
import { MAX_CONSECUTIVE_OUTLIERS, nonFiniteNames, OutlierDetector, TrainingError, type OutlierState } from "./guards.ts";
import { MetricsLog, type StepRecord } from "./metrics.ts";
import { measureGemmRate, trainingFlopsPerToken, type GemmRate } from "./mfu.ts";
import { AdamW, clipFactor, copyInto, globalNorm } from "./optimizer.ts";
import { lossPlotSvg } from "./plot.ts";
import { formatDuration, formatRate, Progress } from "./progress.ts";
import { generate } from "./sample.ts";
import { learningRate, type ScheduleOptions } from "./schedule.ts";
import type { NamedTensor } from "./safetensors.ts";

/** Optional model hooks for state kept between steps beyond the parameters (e.g. delayed abs-max values):
 * saved in the checkpoint's state.json and restored on resume. */
export interface ModelExtraState {
  extraState(): Record<string, number[]>;
  loadExtraState(state: Record<string, number[]>): void;
}

function hasExtraState(m: LanguageModel): m is LanguageModel & ModelExtraState {
  const x = m as Partial<ModelExtraState>;
  return typeof x.extraState === "function" && typeof x.loadExtraState === "function";
}

export interface TrainHooks {
  /** builds the model (examples/train.ts passes the Llama) */
  createModel(config: ModelConfig): LanguageModel;
  /** where progress and the summary go (default: stdout) */
  write?: (text: string) => void;
  /** draw a redrawn progress bar (default: stdout is a terminal) */
  tty?: boolean;
  /** time the device's GEMM for the MFU (default true) */
  measureMfu?: boolean;
  /** stop right after this step (and its checkpoint, if one is due): for tests of resume */
  stopAfterStep?: number;
}

export interface TrainSummary {
  runDir: string;
  device: Device;
  recipe: string;
  steps: number;
  tokensTrained: number;
  finalValLoss: number | null;
  finalTrainLoss: number | null;
  /** entropy of the training split's token frequencies (nats/token) */
  unigramEntropy: number;
  /** cross-entropy of the validation split under the training unigram distribution (nats/token) */
  unigramValLoss: number;
  tokensPerS: number;
  wallSeconds: number;
  peakRssBytes: number;
  peakDeviceBytes: number | null;
  flopsPerToken: number;
  gemm: GemmRate | null;
  mfu: number | null;
  skippedSteps: number;
  nonEmbeddingParams: number;
  checkpoint: string | null;
  metricsPath: string;
  plotPath: string;
  sample: string | null;
  stoppedEarly: boolean;
}

/** The vocabulary the model is built with: the tokenizer's, rounded up to a multiple of 128 (GEMM-friendly;
 * the extra ids never occur in the data and are never sampled). */
export function modelVocab(tokenizerVocab: number): number {
  return Math.ceil(tokenizerVocab / 128) * 128;
}

export function resolveDevice(requested: TrainConfig["device"]): Device {
  if (requested === "cpu") return "cpu";
  const available = cudaAvailable();
  if (requested === "cuda" && !available)
    throw new Error("--device cuda: no CUDA device is available to this build of libquartet (use --device cpu or auto)");
  return available ? "cuda" : "cpu";
}

function deviceBytesInUse(device: Device): number | null {
  if (device !== "cuda") return null;
  const free = new BigInt64Array(1), total = new BigInt64Array(1);
  check(native().quartet_cuda_mem_info(free, total));
  return Number(total[0]! - free[0]!);
}

function evaluate(model: LanguageModel, batches: Batch[]): number {
  let sum = 0;
  for (const b of batches) sum += model.evalLoss(b.tokens, b.targets);
  return sum / batches.length;
}

function modelConfigOf(c: TrainConfig, vocab: number, device: Device): ModelConfig {
  return {
    vocabSize: vocab,
    dModel: c.dModel,
    nLayers: c.nLayers,
    nHeads: c.nHeads,
    mlpHidden: c.mlpHidden,
    seqLen: c.seq,
    recipe: c.recipe,
    edenVariant: c.edenVariant,
    delayedAmax: c.amax === "delayed",
    device,
    batchSize: c.batch,
    initSeed: c.seed,
  };
}

function restore(ck: Checkpoint, model: LanguageModel, opt: AdamW, data: TokenData): void {
  const fp = ck.state.data.fingerprint;
  if (fp.train !== data.fingerprint.train || fp.val !== data.fingerprint.val)
    throw new Error(
      `--resume ${ck.dir}: the data differ from the checkpoint's (${ck.state.data.description}, fingerprints ` +
        `${fp.train}/${fp.val}; now ${data.fingerprint.train}/${data.fingerprint.val}): resume with the same --data and --tokenizer`,
    );
  for (const p of model.parameters()) {
    const w = ck.weights.get(p.name);
    if (!w) throw new Error(`--resume ${ck.dir}: model.safetensors has no tensor ${p.name}`);
    if (w.dtype !== "F32" || w.shape.join("x") !== p.data.shape.join("x"))
      throw new Error(`--resume ${ck.dir}: ${p.name} is ${w.dtype} [${w.shape.join(", ")}] in the checkpoint, the model has f32 [${p.data.shape.join(", ")}]`);
    copyInto(p.data, w.data, `checkpoint tensor ${p.name}`);
  }
  opt.loadState({ t: ck.state.optimizer.t, m: ck.moments.m, v: ck.moments.v });
  if (ck.state.modelState && hasExtraState(model)) model.loadExtraState(ck.state.modelState);
}

export async function train(config: TrainConfig, resume: string | null, hooks: TrainHooks): Promise<TrainSummary> {
  const write = hooks.write ?? ((t: string) => void process.stdout.write(t));
  const tty = hooks.tty ?? Boolean(process.stdout.isTTY);
  const c = config;
  const runDir = join(c.out, c.name);
  mkdirSync(runDir, { recursive: true });
  if (c.threads > 0) setCpuThreads(c.threads);
  const device = resolveDevice(c.device);

  const data = await loadTokenData({ data: c.data, tokenizer: c.tokenizer, valFraction: c.valFraction });
  const vocab = modelVocab(data.tokenizer.vocabSize);
  const model = hooks.createModel(modelConfigOf(c, vocab, device));
  try {
    const params = model.parameters();
    const opt = new AdamW(params, { beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay: c.weightDecay });
    const sampler = new WindowSampler(data.train, c.seq, c.seed);
    const valSet = validationBatches(data.val, c.seq, c.batch, c.evalBatches);
    const guards = new OutlierDetector({ threshold: c.outlierZ, window: c.outlierWindow, minHistory: Math.min(c.outlierWindow, 20) });
    const schedule: ScheduleOptions = { name: c.schedule, lr: c.lr, steps: c.steps, warmup: c.warmup, minRatio: c.minLrRatio, startRatio: c.startLrRatio };
    const names = params.map((p) => p.name);

    let step = 0, cursor = 0, elapsedBefore = 0;
    let metrics: MetricsLog;
    const metricsPath = join(runDir, "metrics.jsonl");
    if (resume) {
      const ck = loadCheckpoint(resume);
      restore(ck, model, opt, data);
      guards.load(ck.state.guards as OutlierState);
      step = ck.state.step;
      cursor = ck.state.dataCursor;
      elapsedBefore = ck.state.elapsedSeconds;
      metrics = MetricsLog.resume(metricsPath, step);
    } else {
      // A fresh run under an existing name replaces the earlier run's checkpoints, so that --resume can never
      // pick up a checkpoint of a different run.
      const stale = listCheckpoints(join(runDir, "checkpoints"));
      if (stale.length > 0) {
        for (const ck of stale) rmSync(ck.dir, { recursive: true, force: true });
        write(`note: ${runDir} held ${stale.length} checkpoint(s) of an earlier run; starting fresh replaced them (use --resume to continue a run)\n`);
      }
      metrics = MetricsLog.create(metricsPath);
    }
    writeFileAtomic(join(runDir, "config.json"), `${JSON.stringify(c, null, 1)}\n`);

    const nonEmb = model.nonEmbeddingParams();
    const flopsPerToken = trainingFlopsPerToken(c, c.seq, vocab);
    const gemmRate = hooks.measureMfu === false ? null : measureGemmRate(device);
    const hTrain = unigramEntropy(data.train);
    const hVal = unigramCrossEntropy(data.train, data.val, data.tokenizer.vocabSize);
    const tokensPerStep = c.batch * c.gradAccum * c.seq;

    write(
      `quartet-ii train: ${c.name} | preset ${c.preset} | recipe ${c.recipe} | device ${device}` +
        `${gemmRate ? ` (BF16 GEMM ${(gemmRate.flopsPerS / 1e9).toFixed(1)} GFLOP/s)` : ""}\n` +
        `  model: ${c.nLayers} layers, d ${c.dModel}, ${c.nHeads} heads, MLP ${c.mlpHidden}, vocab ${vocab}; ${(nonEmb / 1e6).toFixed(2)}M non-embedding params\n` +
        `  data: ${data.description}; ${data.train.length.toLocaleString("en-US")} train / ${data.val.length.toLocaleString("en-US")} val tokens; unigram entropy ${hTrain.toFixed(3)} nats\n` +
        `  steps ${c.steps} x ${tokensPerStep} tokens (batch ${c.batch} x accum ${c.gradAccum} x seq ${c.seq}); lr ${c.lr} ${c.schedule}; seed ${c.seed}\n` +
        (resume ? `  resumed from ${resume} at step ${step}\n` : "") +
        `  writing ${runDir}/\n`,
    );

    const progress = new Progress({ total: c.steps, tty, logEvery: c.logEvery, write, columns: process.stdout.columns });
    const batchBuf: Batch = { tokens: new Int32Array(c.batch * c.seq), targets: new Int32Array(c.batch * c.seq) };
    const t0 = performance.now();
    let peakRss = process.memoryUsage().rss;
    let peakDevice = deviceBytesInUse(device);
    let trainSeconds = 0, trainTokens = 0, stepTimeEma = 0, consecutiveBad = 0, skipped = 0;
    let lastCheckpoint: string | null = null;
    let lastVal: number | null = null;
    let stoppedEarly = false;

    const checkpointNow = () => {
      const state: CheckpointState = {
        format: CHECKPOINT_FORMAT,
        version: CHECKPOINT_VERSION,
        step,
        seed: c.seed,
        config: c as unknown as Record<string, unknown>,
        dataCursor: cursor,
        data: { description: data.description, tokenizer: data.tokenizer.name, fingerprint: data.fingerprint },
        optimizer: { t: opt.t },
        guards: guards.state(),
        modelState: hasExtraState(model) ? model.extraState() : null,
        elapsedSeconds: elapsedBefore + (performance.now() - t0) / 1000,
        createdAt: new Date().toISOString(),
      };
      const weights = new Map<string, NamedTensor>();
      for (const p of params) weights.set(p.name, { dtype: "F32", shape: p.data.shape, data: p.data.toBytes() });
      const s = opt.state();
      lastCheckpoint = saveCheckpoint(runDir, state, weights, { m: s.m, v: s.v }, c.keep);
    };

    while (step < c.steps) {
      const lr = learningRate(schedule, step);
      const tStep = performance.now();
      model.zeroGrad();
      let lossSum = 0;
      let failure: string | null = null;
      for (let micro = 0; micro < c.gradAccum && failure === null; ++micro) {
        sampler.batch(cursor, c.batch, batchBuf);
        cursor += c.batch;
        try {
          lossSum += model.trainStep(batchBuf.tokens, batchBuf.targets, { seed: c.seed, step: (step * c.gradAccum + micro) >>> 0 }).loss;
        } catch (e) {
          if (!(e instanceof QuartetError) || e.code !== "NON_FINITE") throw e;
          failure = e.message;
          cursor += c.batch * (c.gradAccum - 1 - micro); // keep the cursor where a clean step leaves it
        }
      }
      const loss = failure === null ? lossSum / c.gradAccum : Number.NaN;
      const sumsq = opt.gradSumSquares();
      const gradNorm = globalNorm(sumsq) / c.gradAccum;
      let skippedReason: string | undefined;
      if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
        const badGrads = nonFiniteNames(names, sumsq);
        const badWeights = nonFiniteNames(names, opt.weightSumSquares());
        skippedReason =
          `non-finite ${!Number.isFinite(loss) ? `loss (${loss})` : ""}${!Number.isFinite(loss) && !Number.isFinite(gradNorm) ? " and " : ""}` +
          `${!Number.isFinite(gradNorm) ? `gradient norm (${gradNorm})` : ""}` +
          `; non-finite gradients in: ${badGrads.length ? badGrads.join(", ") : "none"}` +
          `; non-finite weights in: ${badWeights.length ? badWeights.join(", ") : "none"}` +
          (failure ? `; ${failure}` : "");
        progress.note(`step ${step + 1}: ${skippedReason} -- update skipped`);
        consecutiveBad += 1;
      } else {
        const verdict = guards.check(loss, gradNorm);
        if (verdict.outlier) {
          skippedReason = `outlier (loss z-score ${verdict.zLoss.toFixed(1)}, gradient-norm z-score ${verdict.zNorm.toFixed(1)}, threshold ${c.outlierZ})`;
          progress.note(`step ${step + 1}: loss ${loss.toFixed(4)}, gradient norm ${gradNorm.toPrecision(4)}: ${skippedReason} -- update skipped`);
        } else {
          if (verdict.acceptedAsRegimeChange)
            progress.note(`step ${step + 1}: loss ${loss.toFixed(4)}, gradient norm ${gradNorm.toPrecision(4)} above the outlier threshold again ` +
              `after ${MAX_CONSECUTIVE_OUTLIERS} skipped steps: applied as a new regime`);
          opt.step(lr, clipFactor(gradNorm, c.clip) / c.gradAccum);
          guards.accept(loss, gradNorm);
        }
        consecutiveBad = 0;
      }
      if (skippedReason) skipped += 1;
      step += 1;
      const dt = (performance.now() - tStep) / 1000;
      trainSeconds += dt;
      trainTokens += tokensPerStep;
      stepTimeEma = stepTimeEma === 0 ? dt : 0.9 * stepTimeEma + 0.1 * dt;
      const record: StepRecord = {
        step,
        loss,
        lr,
        grad_norm: gradNorm,
        tokens_per_s: tokensPerStep / dt,
        elapsed_s: elapsedBefore + (performance.now() - t0) / 1000,
      };
      if (skippedReason) record.skipped = skippedReason;
      if ((c.evalEvery > 0 && step % c.evalEvery === 0) || step === c.steps) {
        lastVal = evaluate(model, valSet);
        record.val_loss = lastVal;
      }
      metrics.append(record);
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      const dev = deviceBytesInUse(device);
      if (dev !== null) peakDevice = Math.max(peakDevice ?? 0, dev);
      progress.update({ step, loss, lr, tokensPerS: tokensPerStep / stepTimeEma, etaS: stepTimeEma * (c.steps - step), valLoss: record.val_loss });
      if (consecutiveBad >= c.maxBadSteps) {
        progress.finish();
        throw new TrainingError(step, `step ${step}: ${consecutiveBad} consecutive non-finite steps (--max-bad-steps ${c.maxBadSteps}); last: ${skippedReason}. The run stops; metrics are in ${metricsPath}`);
      }
      if ((c.checkpointEvery > 0 && step % c.checkpointEvery === 0) || step === c.steps) checkpointNow();
      if (hooks.stopAfterStep !== undefined && step >= hooks.stopAfterStep && step < c.steps) {
        stoppedEarly = true;
        break;
      }
    }
    progress.finish();

    const trainRecords = metrics.records.map((r) => ({ step: r.step, loss: r.loss }));
    const valRecords = metrics.records.filter((r) => r.val_loss !== undefined).map((r) => ({ step: r.step, loss: r.val_loss! }));
    const plotPath = join(runDir, "loss.svg");
    writeFileAtomic(
      plotPath,
      lossPlotSvg({
        title: `${c.name}: ${c.recipe}, ${(nonEmb / 1e6).toFixed(2)}M params, ${data.tokenizer.name} tokens`,
        train: trainRecords,
        val: valRecords,
        reference: { label: `unigram entropy ${hTrain.toFixed(3)}`, value: hTrain },
      }),
    );

    let sample: string | null = null;
    if (!stoppedEarly && c.sampleTokens > 0) {
      const promptIds = Array.from(data.val.subarray(0, Math.min(data.val.length, Math.floor(c.seq / 2))));
      const ids = generate(model, promptIds, {
        maxNewTokens: c.sampleTokens,
        topK: 1,
        temperature: 1,
        seed: c.seed,
        vocabSize: data.tokenizer.vocabSize,
        padToken: data.tokenizer.eot ?? 32,
      });
      sample = `${data.tokenizer.decode(promptIds)}[[${data.tokenizer.decode(ids)}]]`;
    }

    const tokensPerS = trainSeconds > 0 ? trainTokens / trainSeconds : 0;
    const mfu = gemmRate && tokensPerS > 0 ? (tokensPerS * flopsPerToken) / gemmRate.flopsPerS : null;
    const finalTrain = metrics.records.length ? metrics.records[metrics.records.length - 1]!.loss : null;
    const summary: TrainSummary = {
      runDir,
      device,
      recipe: c.recipe,
      steps: step,
      tokensTrained: step * tokensPerStep,
      finalValLoss: lastVal ?? [...valRecords].pop()?.loss ?? null,
      finalTrainLoss: finalTrain,
      unigramEntropy: hTrain,
      unigramValLoss: hVal,
      tokensPerS,
      wallSeconds: elapsedBefore + (performance.now() - t0) / 1000,
      peakRssBytes: peakRss,
      peakDeviceBytes: peakDevice,
      flopsPerToken,
      gemm: gemmRate,
      mfu,
      skippedSteps: skipped,
      nonEmbeddingParams: nonEmb,
      checkpoint: lastCheckpoint,
      metricsPath,
      plotPath,
      sample,
      stoppedEarly,
    };
    writeFileSync(join(runDir, "summary.json"), `${JSON.stringify(summary, null, 1)}\n`);
    write(formatSummary(summary));
    opt.dispose();
    return summary;
  } finally {
    model[Symbol.dispose]();
  }
}

export function formatSummary(s: TrainSummary): string {
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  const lines = [
    `summary (${s.runDir})${s.stoppedEarly ? " [stopped early]" : ""}`,
    `  steps ${s.steps}, ${s.tokensTrained.toLocaleString("en-US")} tokens, ${formatDuration(s.wallSeconds)} wall, ${s.skippedSteps} skipped`,
    `  final validation loss ${s.finalValLoss === null ? "--" : s.finalValLoss.toFixed(4)} nats/token` +
      ` (unigram entropy ${s.unigramEntropy.toFixed(4)}; unigram model on validation ${s.unigramValLoss.toFixed(4)})`,
    `  throughput ${formatRate(s.tokensPerS)} tokens/s on ${s.device}; ${(s.flopsPerToken / 1e6).toFixed(2)} MFLOP/token` +
      (s.mfu !== null && s.gemm ? `; MFU ${(100 * s.mfu).toFixed(1)}% of the measured BF16 GEMM rate (${(s.gemm.flopsPerS / 1e9).toFixed(1)} GFLOP/s)` : ""),
    `  peak memory: ${mib(s.peakRssBytes)} host RSS${s.peakDeviceBytes !== null ? `, ${mib(s.peakDeviceBytes)} in use on the GPU` : ""}`,
    `  metrics ${s.metricsPath}; plot ${s.plotPath}${s.checkpoint ? `; checkpoint ${s.checkpoint}` : ""}`,
  ];
  if (s.sample !== null) lines.push(`  greedy sample (prompt, then [[generated]]):\n    ${JSON.stringify(s.sample)}`);
  return `${lines.join("\n")}\n`;
}
