/** Checkpoints: <run>/checkpoints/step-NNNNNNNN/ holding model.safetensors (the FP32 master weights, by
 * parameter name), optimizer.safetensors (AdamW's m and v) and state.json (step, seed, data cursor, config,
 * outlier statistics, the model's extra state such as delayed abs-max values). A checkpoint is written into a
 * temporary folder and renamed into place, so a crash never leaves a half-written step-N folder; only the
 * newest `keep` are kept. */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from "./safetensors.ts";

export const CHECKPOINT_FORMAT = "quartet-ii-checkpoint";
export const CHECKPOINT_VERSION = 1;

export interface CheckpointState {
  format: typeof CHECKPOINT_FORMAT;
  version: typeof CHECKPOINT_VERSION;
  /** optimizer steps completed (the next step to run has this index) */
  step: number;
  seed: number;
  /** the run's full configuration */
  config: Record<string, unknown>;
  /** training sequences consumed so far */
  dataCursor: number;
  data: { description: string; tokenizer: string; fingerprint: { train: string; val: string } };
  optimizer: { t: number };
  /** the outlier guard's history (see guards.ts) */
  guards: unknown;
  /** state the model keeps between steps beyond its parameters (e.g. delayed abs-max), or null */
  modelState: Record<string, number[]> | null;
  /** metrics of the run so far needed to finish it (e.g. the loss history of the plot is re-read from the log) */
  elapsedSeconds: number;
  createdAt: string;
}

export interface Checkpoint {
  dir: string;
  state: CheckpointState;
  weights: Map<string, NamedTensor>;
  moments: { m: Map<string, Uint8Array>; v: Map<string, Uint8Array> };
}

export function checkpointName(step: number): string {
  return `step-${String(step).padStart(8, "0")}`;
}

function writeDurable(path: string, bytes: Uint8Array | string): void {
  const fd = openSync(path, "w");
  try {
    const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes a file atomically: a temporary file beside it, then rename. */
export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeDurable(tmp, bytes);
  renameSync(tmp, path);
}

/** Writes checkpoint `state.step` under runDir/checkpoints and keeps the newest `keep`. Returns its folder. */
export function saveCheckpoint(
  runDir: string,
  state: CheckpointState,
  weights: Map<string, NamedTensor>,
  moments: { m: Map<string, Uint8Array>; v: Map<string, Uint8Array> },
  keep: number,
): string {
  const root = join(runDir, "checkpoints");
  mkdirSync(root, { recursive: true });
  const name = checkpointName(state.step);
  const tmp = join(root, `.tmp-${name}-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  writeDurable(join(tmp, "model.safetensors"), encodeSafetensors(weights, { format: CHECKPOINT_FORMAT, step: String(state.step) }));
  const optim = new Map<string, NamedTensor>();
  for (const [which, map] of [["m", moments.m], ["v", moments.v]] as const)
    for (const [param, bytes] of map) optim.set(`${which}.${param}`, { dtype: "F32", shape: [bytes.length / 4], data: bytes });
  writeDurable(join(tmp, "optimizer.safetensors"), encodeSafetensors(optim, { t: String(state.optimizer.t) }));
  writeDurable(join(tmp, "state.json"), `${JSON.stringify(state, null, 1)}\n`);
  const final = join(root, name);
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  pruneCheckpoints(root, keep);
  return final;
}

/** Checkpoint folders under a checkpoints/ folder, oldest first (complete ones only). */
export function listCheckpoints(checkpointsDir: string): { step: number; dir: string }[] {
  if (!existsSync(checkpointsDir)) return [];
  return readdirSync(checkpointsDir)
    .map((f) => ({ m: /^step-(\d+)$/.exec(f), dir: join(checkpointsDir, f) }))
    .filter((e) => e.m && existsSync(join(e.dir, "state.json")))
    .map((e) => ({ step: Number(e.m![1]), dir: e.dir }))
    .sort((a, b) => a.step - b.step);
}

function pruneCheckpoints(root: string, keep: number): void {
  const all = listCheckpoints(root);
  for (const c of all.slice(0, Math.max(0, all.length - keep))) rmSync(c.dir, { recursive: true, force: true });
  // Left-overs of interrupted writes by processes that are gone.
  for (const f of readdirSync(root)) {
    const m = /^\.tmp-step-\d+-(\d+)$/.exec(f);
    if (m && Number(m[1]) !== process.pid) rmSync(join(root, f), { recursive: true, force: true });
  }
}

/** The checkpoint folder meant by --resume: `true` = the newest of runDir; a path may be a checkpoint folder, a
 * run folder or a checkpoints/ folder (its newest checkpoint). */
export function resolveResume(resume: string | true, runDir: string): string {
  const target = resume === true ? runDir : resume;
  if (!existsSync(target)) throw new Error(`--resume ${resume === true ? `(run ${runDir})` : resume}: no such folder`);
  if (!statSync(target).isDirectory()) throw new Error(`--resume ${target}: not a folder`);
  if (existsSync(join(target, "state.json"))) return target;
  for (const dir of [join(target, "checkpoints"), target]) {
    const all = listCheckpoints(dir);
    if (all.length > 0) return all[all.length - 1]!.dir;
  }
  throw new Error(`--resume: no checkpoint in ${target} (expected checkpoints/step-N/state.json)`);
}

export function loadCheckpoint(dir: string): Checkpoint {
  const statePath = join(dir, "state.json");
  let state: CheckpointState;
  try {
    state = JSON.parse(readFileSync(statePath, "utf8")) as CheckpointState;
  } catch (e) {
    throw new Error(`${statePath}: cannot read the checkpoint state (${(e as Error).message})`);
  }
  if (state.format !== CHECKPOINT_FORMAT || state.version !== CHECKPOINT_VERSION)
    throw new Error(`${statePath}: not a ${CHECKPOINT_FORMAT} version ${CHECKPOINT_VERSION} state`);
  const weights = decodeSafetensors(new Uint8Array(readFileSync(join(dir, "model.safetensors"))), join(dir, "model.safetensors")).tensors;
  const optim = decodeSafetensors(new Uint8Array(readFileSync(join(dir, "optimizer.safetensors"))), join(dir, "optimizer.safetensors")).tensors;
  const m = new Map<string, Uint8Array>(), v = new Map<string, Uint8Array>();
  for (const [name, t] of optim) {
    if (name.startsWith("m.")) m.set(name.slice(2), t.data);
    else if (name.startsWith("v.")) v.set(name.slice(2), t.data);
  }
  return { dir, state, weights, moments: { m, v } };
}
