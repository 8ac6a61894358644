/** The papers' Llama-style decoder (numerics.md §7) as a LanguageModel: token embedding, nLayers pre-norm
 * blocks (RMSNorm -> fused QKV -> RoPE -> causal attention -> output projection, residual; RMSNorm -> fused
 * up/gate -> SwiGLU -> down projection, residual), a final RMSNorm and an untied LM head with a fused,
 * chunked softmax cross-entropy.
 *
 * The four linears of each block run through QuartetLinear with the recipe the PrecisionPolicy gives them;
 * everything else is BF16/FP32 (the C model ops of src/model/ops.ts; the LM head is a dense BF16 GEMM with
 * FP32 accumulation). Precision follows BF16 autocast of the papers' code: the residual stream and every
 * parameter and gradient are FP32; norm outputs, linear outputs, attention and the logits are BF16.
 *
 * Every parameter, gradient, saved activation and scratch buffer is allocated once, in the constructor, for
 * batchSize * seqLen tokens: a training step allocates nothing (beyond what QuartetLinear does per call). */
import { argumentError, QuartetError } from "../errors.ts";
import { QuartetLinear, recipeFor, type PrecisionPolicy, type Recipe, type StepKey } from "../linear.ts";
import { check, native } from "../native/ffi.ts";
import { DTYPE_CODE, Tensor, type Device } from "../tensor.ts";
import { fillNormal } from "./init.ts";
import * as ops from "./ops.ts";
import { nonEmbeddingParamsOf } from "./presets.ts";
import type { LanguageModel, ModelConfig, Parameter, StepStats } from "./types.ts";

/** Standard deviation of the N(0, std^2) initialization (numerics.md §7); output projections use std / sqrt(2L). */
export const INIT_STD = 0.02;
/** Upper bound on the bytes of one chunk of BF16 logits of the LM head (the chunk size in tokens follows). */
const LOGITS_CHUNK_BYTES = 256 * 2 ** 20;

const BF16 = DTYPE_CODE.bf16;

interface BlockLinears {
  qkv: QuartetLinear;
  attnOut: QuartetLinear;
  upGate: QuartetLinear;
  down: QuartetLinear;
}

interface Block {
  norm1: Parameter;
  qkv: Parameter;
  attnOut: Parameter;
  norm2: Parameter;
  upGate: Parameter;
  down: Parameter;
  linear: BlockLinears;
  /** saved for the backward */
  xIn: Tensor; // f32 [T, d] block input (residual stream)
  rstd1: Tensor; // f32 [T]
  qkvAct: Tensor; // bf16 [T, 3d] after RoPE
  att: Tensor; // bf16 [T, d] attention output
  lse: Tensor; // f32 [B, H, S]
  xMid: Tensor; // f32 [T, d] after the attention residual
  rstd2: Tensor; // f32 [T]
  gu: Tensor; // bf16 [T, 2h] gate | up
}

function checkConfig(c: ModelConfig): void {
  const fn = "LlamaModel";
  if (!c || typeof c !== "object") throw argumentError(fn, "config", "a ModelConfig object", c);
  for (const k of ["vocabSize", "dModel", "nLayers", "nHeads", "mlpHidden", "seqLen", "batchSize"] as const)
    if (!Number.isSafeInteger(c[k]) || c[k] <= 0) throw argumentError(fn, `config.${k}`, "a positive integer", c[k]);
  if (!Number.isSafeInteger(c.initSeed)) throw argumentError(fn, "config.initSeed", "an integer", c.initSeed);
  if (c.device !== "cpu" && c.device !== "cuda") throw argumentError(fn, "config.device", '"cpu" or "cuda"', c.device);
  if (c.dModel % c.nHeads !== 0) throw argumentError(fn, "config.nHeads", `a divisor of dModel = ${c.dModel}`, c.nHeads);
  const hd = c.dModel / c.nHeads;
  if (hd % 2 !== 0) throw argumentError(fn, "config.dModel / nHeads (head dim)", "even (RoPE rotates pairs)", hd);
  if (c.device === "cuda" && hd !== 64 && hd !== 128)
    throw argumentError(fn, "config.dModel / nHeads (head dim)", "64 or 128 on cuda (the flash attention kernel)", hd);
  if (c.vocabSize >= 2 ** 31) throw argumentError(fn, "config.vocabSize", "< 2^31", c.vocabSize);
}

export class LlamaModel implements LanguageModel {
  readonly config: ModelConfig;
  readonly headDim: number;
  /** tokens per micro-batch (batchSize * seqLen): the capacity of every activation buffer */
  readonly tokens: number;
  readonly embed: Parameter;
  readonly finalNorm: Parameter;
  readonly lmHead: Parameter;
  readonly #blocks: Block[] = [];
  readonly #params: Parameter[] = [];
  readonly #owned: Tensor[] = [];
  readonly #linears: QuartetLinear[] = [];
  #disposed = false;

  // shared buffers
  readonly #tokensBuf: Tensor; // int32 [T]
  readonly #targetsBuf: Tensor; // int32 [T]
  readonly #hostTokens: Int32Array;
  readonly #hostTargets: Int32Array;
  readonly #hostLosses: Float32Array;
  readonly #ropeCos: Tensor;
  readonly #ropeSin: Tensor;
  readonly #xFinal: Tensor; // f32 [T, d]
  readonly #rstdF: Tensor; // f32 [T]
  readonly #xnF: Tensor; // bf16 [T, d] (LM head input, saved)
  readonly #xn: Tensor; // bf16 [T, d] norm output (linear input)
  readonly #proj: Tensor; // bf16 [T, d] output of attn_out / down
  readonly #hmid: Tensor; // bf16 [T, h]
  readonly #dx: Tensor; // f32 [T, d] gradient of the residual stream
  readonly #e: Tensor; // bf16 [T, d] dx rounded for the linears' backward
  readonly #dxn: Tensor; // bf16 [T, d]
  readonly #dh: Tensor; // bf16 [T, h]
  readonly #dgu: Tensor; // bf16 [T, 2h]
  readonly #datt: Tensor; // bf16 [T, d]
  readonly #dqkv: Tensor; // bf16 [T, 3d]
  readonly #delta: Tensor; // f32 [B, H, S]
  readonly #normScratch: Tensor; // f32
  readonly #wHead: Tensor; // bf16 [V, d] copy of the LM head weight
  readonly #logits: Tensor; // bf16 [chunk, V]
  readonly #losses: Tensor; // f32 [T]
  readonly #lastLogits: Tensor; // f32 [B, V]
  readonly #chunk: number;

  constructor(config: ModelConfig) {
    checkConfig(config);
    this.config = Object.freeze({ ...config, policy: config.policy ? structuredClone(config.policy) : undefined });
    const c = this.config;
    const dev = c.device;
    const d = c.dModel, V = c.vocabSize, L = c.nLayers, h = c.mlpHidden;
    this.headDim = d / c.nHeads;
    const T = (this.tokens = c.batchSize * c.seqLen);
    const policy: PrecisionPolicy = c.policy ?? { recipe: c.recipe };
    try {
      // parameters: seeded N(0, 0.02^2); output projections N(0, (0.02 / sqrt(2L))^2); norm scales 1
      const projStd = INIT_STD / Math.sqrt(2 * L);
      this.embed = this.#param("embed", [V, d], INIT_STD, false);
      for (let l = 0; l < L; ++l) {
        const name = (s: string) => `block${l}.${s}`;
        const norm1 = this.#param(name("norm1"), [d], null, false);
        const qkv = this.#param(name("qkv"), [3 * d, d], INIT_STD, true);
        const attnOut = this.#param(name("attn_out"), [d, d], projStd, true);
        const norm2 = this.#param(name("norm2"), [d], null, false);
        const upGate = this.#param(name("up_gate"), [2 * h, d], INIT_STD, true);
        const down = this.#param(name("down"), [d, h], projStd, true);
        const linear = (p: Parameter, slot: number): QuartetLinear => {
          const recipe: Recipe = recipeFor(policy, l, L, p.name);
          const quartet2 = recipe === "quartet2";
          const lin = new QuartetLinear({ recipe, inFeatures: p.data.shape[1]!, outFeatures: p.data.shape[0]!, maxTokens: T,
            layer: 4 * l + slot, device: dev, edenVariant: quartet2 ? config.edenVariant ?? "B" : "B",
            delayedAmax: quartet2 && (config.delayedAmax ?? false) });
          this.#linears.push(lin);
          return lin;
        };
        this.#blocks.push({
          norm1, qkv, attnOut, norm2, upGate, down,
          linear: { qkv: linear(qkv, 0), attnOut: linear(attnOut, 1), upGate: linear(upGate, 2), down: linear(down, 3) },
          xIn: this.#buf([T, d], "f32"),
          rstd1: this.#buf([T], "f32"),
          qkvAct: this.#buf([T, 3 * d], "bf16"),
          att: this.#buf([T, d], "bf16"),
          lse: this.#buf([c.batchSize * c.nHeads * c.seqLen], "f32"),
          xMid: this.#buf([T, d], "f32"),
          rstd2: this.#buf([T], "f32"),
          gu: this.#buf([T, 2 * h], "bf16"),
        });
      }
      this.finalNorm = this.#param("final_norm", [d], null, false);
      this.lmHead = this.#param("lm_head", [V, d], INIT_STD, false);

      this.#tokensBuf = this.#buf([4 * T], "u8");
      this.#targetsBuf = this.#buf([4 * T], "u8");
      this.#hostTokens = new Int32Array(T);
      this.#hostTargets = new Int32Array(T);
      this.#hostLosses = new Float32Array(T);
      const table = ops.ropeTable(c.seqLen, this.headDim);
      this.#ropeCos = this.#own(Tensor.fromFloat32(table.cos, [table.cos.length], { device: dev }));
      this.#ropeSin = this.#own(Tensor.fromFloat32(table.sin, [table.sin.length], { device: dev }));
      this.#xFinal = this.#buf([T, d], "f32");
      this.#rstdF = this.#buf([T], "f32");
      this.#xnF = this.#buf([T, d], "bf16");
      this.#xn = this.#buf([T, d], "bf16");
      this.#proj = this.#buf([T, d], "bf16");
      this.#hmid = this.#buf([T, h], "bf16");
      this.#dx = this.#buf([T, d], "f32");
      this.#e = this.#buf([T, d], "bf16");
      this.#dxn = this.#buf([T, d], "bf16");
      this.#dh = this.#buf([T, h], "bf16");
      this.#dgu = this.#buf([T, 2 * h], "bf16");
      this.#datt = this.#buf([T, d], "bf16");
      this.#dqkv = this.#buf([T, 3 * d], "bf16");
      this.#delta = this.#buf([c.batchSize * c.nHeads * c.seqLen], "f32");
      this.#normScratch = this.#buf([ops.rmsnormScratchElems(T, d)], "f32");
      this.#wHead = this.#buf([V, d], "bf16");
      this.#chunk = Math.max(1, Math.min(T, Math.floor(LOGITS_CHUNK_BYTES / (2 * V))));
      this.#logits = this.#buf([this.#chunk, V], "bf16");
      this.#losses = this.#buf([T], "f32");
      this.#lastLogits = this.#buf([c.batchSize, V], "f32");
      this.zeroGrad();
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  #own<T extends Tensor>(t: T): T {
    this.#owned.push(t);
    return t;
  }

  #buf(shape: number[], dtype: "f32" | "bf16" | "u8"): Tensor {
    return this.#own(Tensor.empty(shape, { dtype, device: this.config.device }));
  }

  /** std null = ones (norm scale). */
  #param(name: string, shape: number[], std: number | null, decay: boolean): Parameter {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = std === null ? new Float32Array(n).fill(1) : fillNormal(new Float32Array(n), std, this.config.initSeed, this.#params.length);
    const p: Parameter = {
      name,
      data: this.#own(Tensor.fromFloat32(values, shape, { device: this.config.device })),
      grad: this.#buf(shape, "f32"),
      decay,
    };
    this.#params.push(p);
    return p;
  }

  get #device(): Device {
    return this.config.device;
  }

  #alive(fn: string): void {
    if (this.#disposed) throw new QuartetError("DISPOSED", `LlamaModel.${fn}: the model was used after dispose()`);
  }

  parameters(): Parameter[] {
    this.#alive("parameters");
    return [...this.#params];
  }

  zeroGrad(): void {
    this.#alive("zeroGrad");
    for (const p of this.#params) check(native().quartet_memset(p.grad.backend, p.grad.handle, 0, p.grad.byteLength));
  }

  nonEmbeddingParams(): number {
    return nonEmbeddingParamsOf(this.config);
  }

  /** The recipe each block linear runs (after the precision policy), by parameter name. */
  linearRecipes(): Record<string, Recipe> {
    const out: Record<string, Recipe> = {};
    for (const b of this.#blocks) {
      out[b.qkv.name] = b.linear.qkv.recipe;
      out[b.attnOut.name] = b.linear.attnOut.recipe;
      out[b.upGate.name] = b.linear.upGate.recipe;
      out[b.down.name] = b.linear.down.recipe;
    }
    return out;
  }

  // ---- inputs ------------------------------------------------------------------------------------------

  /** Copies tokens (and targets) into the device buffers, padding to the full batch (padded targets -1).
   * Returns the number of sequences given and the number of rows with a target. */
  #load(fn: string, tokens: Int32Array, targets: Int32Array | null, exact: boolean): { seqs: number; valid: number } {
    const c = this.config, T = this.tokens;
    if (!(tokens instanceof Int32Array)) throw argumentError(fn, "tokens", "an Int32Array [batch, seqLen]", tokens);
    const n = tokens.length;
    if (exact ? n !== T : n === 0 || n > T || n % c.seqLen !== 0)
      throw argumentError(fn, "tokens.length", exact ? `batchSize * seqLen = ${T}` : `a positive multiple of seqLen = ${c.seqLen}, at most ${T}`, n);
    if (targets !== null && (!(targets instanceof Int32Array) || targets.length !== n))
      throw argumentError(fn, "targets", `an Int32Array of ${n} ids (like tokens)`, targets);
    const V = c.vocabSize;
    const ht = this.#hostTokens, hg = this.#hostTargets;
    let valid = 0;
    for (let i = 0; i < n; ++i) {
      const t = tokens[i]!;
      if (t < 0 || t >= V) throw argumentError(fn, `tokens[${i}]`, `in [0, vocabSize = ${V})`, t);
      ht[i] = t;
      if (targets) {
        const g = targets[i]!;
        if (g >= V) throw argumentError(fn, `targets[${i}]`, `< vocabSize = ${V} (negative = ignored)`, g);
        hg[i] = g;
        if (g >= 0) ++valid;
      }
    }
    ht.fill(0, n);
    hg.fill(-1, targets ? n : 0);
    ops.writeInt32(this.#tokensBuf, ht);
    ops.writeInt32(this.#targetsBuf, hg);
    return { seqs: n / c.seqLen, valid };
  }

  // ---- forward -----------------------------------------------------------------------------------------

  #forward(key: StepKey): void {
    const c = this.config, hd = this.headDim;
    ops.embeddingForward({ tokens: this.#tokensBuf, table: this.embed.data, out: this.#blocks[0]?.xIn ?? this.#xFinal });
    for (let l = 0; l < this.#blocks.length; ++l) {
      const b = this.#blocks[l]!;
      const next = l + 1 < this.#blocks.length ? this.#blocks[l + 1]!.xIn : this.#xFinal;
      // attention: xMid = xIn + attn_out(attention(rope(qkv(norm1(xIn)))))
      ops.rmsnormForward({ x: b.xIn, weight: b.norm1.data, y: this.#xn, rstd: b.rstd1 });
      b.linear.qkv.forward(this.#xn, b.qkv.data, key, b.qkvAct);
      ops.ropeForward({ x: b.qkvAct, heads: 2 * c.nHeads, headDim: hd, seqLen: c.seqLen, cos: this.#ropeCos, sin: this.#ropeSin });
      ops.attentionForward({ qkv: b.qkvAct, out: b.att, lse: b.lse, batch: c.batchSize, seq: c.seqLen, heads: c.nHeads, headDim: hd });
      b.linear.attnOut.forward(b.att, b.attnOut.data, key, this.#proj);
      ops.copyInto(b.xMid, b.xIn);
      ops.addInto(b.xMid, this.#proj);
      // MLP: next = xMid + down(swiglu(up_gate(norm2(xMid))))
      ops.rmsnormForward({ x: b.xMid, weight: b.norm2.data, y: this.#xn, rstd: b.rstd2 });
      b.linear.upGate.forward(this.#xn, b.upGate.data, key, b.gu);
      ops.swigluForward({ gu: b.gu, h: this.#hmid });
      b.linear.down.forward(this.#hmid, b.down.data, key, this.#proj);
      ops.copyInto(next, b.xMid);
      ops.addInto(next, this.#proj);
    }
    ops.rmsnormForward({ x: this.#xFinal, weight: this.finalNorm.data, y: this.#xnF, rstd: this.#rstdF });
    ops.convertInto(this.#wHead, this.lmHead.data);
  }

  /** LM head + cross-entropy over the first `rows` tokens in chunks; with grad, also dxnF (into #dxn) and the
   * LM head's weight gradient. Leaves the per-token losses in #losses. */
  #head(rows: number, gradScale: number, grad: boolean): void {
    const V = this.config.vocabSize, d = this.config.dModel;
    const be = this.#logits.backend;
    const gemm = native().quartet_gemm;
    for (let c0 = 0; c0 < rows; c0 += this.#chunk) {
      const r = Math.min(this.#chunk, rows - c0);
      const xRows = ops.at(this.#xnF, c0 * d * 2);
      // logits[r, V] = xnF[c0:c0+r] W^T
      check(gemm(be, BF16, 0, 1, r, V, d, 1, xRows, d, this.#wHead.handle, d, 0, this.#logits.handle, V, BF16));
      ops.crossEntropy({ logits: this.#logits, rows: r, targets: this.#targetsBuf, targetsOffset: c0, losses: this.#losses, lossesOffset: c0,
        gradScale, computeGrad: grad });
      if (!grad) continue;
      // dxnF[c0:c0+r] = dlogits W;  dW += dlogits^T xnF[c0:c0+r]
      check(gemm(be, BF16, 0, 0, r, d, V, 1, this.#logits.handle, V, this.#wHead.handle, d, 0, ops.at(this.#dxn, c0 * d * 2), d, BF16));
      check(gemm(be, BF16, 1, 0, V, d, r, 1, this.#logits.handle, V, xRows, d, 1, this.lmHead.grad.handle, d, DTYPE_CODE.f32));
    }
  }

  #meanLoss(rows: number, valid: number): number {
    if (valid === 0) return 0;
    const losses = this.#hostLosses;
    check(native().quartet_memcpy(0, losses, this.#losses.backend, this.#losses.handle, rows * 4));
    let s = 0;
    for (let i = 0; i < rows; ++i) s += losses[i]!;
    return s / valid;
  }

  // ---- backward ----------------------------------------------------------------------------------------

  #backward(key: StepKey): void {
    const c = this.config, hd = this.headDim;
    const scratch = this.#normScratch;
    ops.rmsnormBackward({ x: this.#xFinal, weight: this.finalNorm.data, rstd: this.#rstdF, dy: this.#dxn, dx: this.#dx,
      dweight: this.finalNorm.grad, scratch });
    for (let l = this.#blocks.length - 1; l >= 0; --l) {
      const b = this.#blocks[l]!;
      const bk = { seed: key.seed, step: key.step, accumulate: true };
      // MLP branch
      ops.convertInto(this.#e, this.#dx);
      b.linear.down.backward(this.#e, b.down.data, b.down.grad, { ...bk, dx: this.#dh });
      ops.swigluBackward({ gu: b.gu, dh: this.#dh, dgu: this.#dgu });
      b.linear.upGate.backward(this.#dgu, b.upGate.data, b.upGate.grad, { ...bk, dx: this.#dxn });
      ops.rmsnormBackward({ x: b.xMid, weight: b.norm2.data, rstd: b.rstd2, dy: this.#dxn, dx: this.#dx, accumulate: true,
        dweight: b.norm2.grad, scratch });
      // attention branch
      ops.convertInto(this.#e, this.#dx);
      b.linear.attnOut.backward(this.#e, b.attnOut.data, b.attnOut.grad, { ...bk, dx: this.#datt });
      ops.attentionBackward({ qkv: b.qkvAct, out: b.att, dout: this.#datt, lse: b.lse, dqkv: this.#dqkv, delta: this.#delta,
        batch: c.batchSize, seq: c.seqLen, heads: c.nHeads, headDim: hd });
      ops.ropeBackward({ x: this.#dqkv, heads: 2 * c.nHeads, headDim: hd, seqLen: c.seqLen, cos: this.#ropeCos, sin: this.#ropeSin });
      b.linear.qkv.backward(this.#dqkv, b.qkv.data, b.qkv.grad, { ...bk, dx: this.#dxn });
      ops.rmsnormBackward({ x: b.xIn, weight: b.norm1.data, rstd: b.rstd1, dy: this.#dxn, dx: this.#dx, accumulate: true,
        dweight: b.norm1.grad, scratch });
    }
    ops.embeddingBackward({ tokens: this.#tokensBuf, dout: this.#dx, dtable: this.embed.grad });
  }

  // ---- LanguageModel -----------------------------------------------------------------------------------

  trainStep(tokens: Int32Array, targets: Int32Array, key: { seed: number; step: number }): StepStats {
    const fn = "trainStep";
    this.#alive(fn);
    if (!key || !Number.isInteger(key.seed) || !Number.isInteger(key.step)) throw argumentError(fn, "key", "{ seed, step } integers", key);
    const { valid } = this.#load(fn, tokens, targets, true);
    this.#forward(key);
    this.#head(this.tokens, valid > 0 ? 1 / valid : 0, true);
    this.#backward(key);
    return { loss: this.#meanLoss(this.tokens, valid) };
  }

  evalLoss(tokens: Int32Array, targets: Int32Array): number {
    const fn = "evalLoss";
    this.#alive(fn);
    const { seqs, valid } = this.#load(fn, tokens, targets, false);
    this.#forward({ seed: 0, step: 0 });
    const rows = seqs * this.config.seqLen;
    this.#head(rows, 0, false);
    return this.#meanLoss(rows, valid);
  }

  lastLogits(tokens: Int32Array): Float32Array {
    const fn = "lastLogits";
    this.#alive(fn);
    const { seqs } = this.#load(fn, tokens, null, false);
    this.#forward({ seed: 0, step: 0 });
    const c = this.config, d = c.dModel, V = c.vocabSize, S = c.seqLen;
    // the last position of each sequence: rows b * S + S - 1 of xnF, i.e. row stride S * d
    check(native().quartet_gemm(this.#xnF.backend, BF16, 0, 1, seqs, V, d, 1, ops.at(this.#xnF, (S - 1) * d * 2), S * d,
      this.#wHead.handle, d, 0, this.#lastLogits.handle, V, DTYPE_CODE.f32));
    return this.#lastLogits.toFloat32Array().slice(0, seqs * V);
  }

  /** Bytes of device (or host) memory the model holds: parameters, gradients, activations and scratch. */
  memoryBytes(): { tensors: number; linearSaved: number } {
    let tensors = 0;
    for (const t of this.#owned) tensors += t.byteLength;
    let linearSaved = 0;
    for (const l of this.#linears) linearSaved += l.savedBytes;
    return { tensors, linearSaved };
  }

  /** The state that is not a parameter but must survive a checkpoint: each linear's delayed abs-max (§5.11).
   * Empty unless delayed abs-max is on. */
  extraState(): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    for (const lin of this.#linears) {
      if (!lin.delayedAmax) continue;
      const s = lin.amaxState();
      out[`amax.layer${lin.layer}`] = [s.valid ? 1 : 0, s.e, s.et];
    }
    return out;
  }

  loadExtraState(state: Record<string, number[]>): void {
    for (const lin of this.#linears) {
      const v = state[`amax.layer${lin.layer}`];
      if (!lin.delayedAmax || !v) continue;
      if (v.length !== 3) throw new QuartetError("INVALID_ARGUMENT", `LlamaModel.loadExtraState: amax.layer${lin.layer} must be [valid, e, et]`);
      lin.setAmaxState({ valid: v[0] === 1, e: v[1]!, et: v[2]! });
    }
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const l of this.#linears) l.dispose();
    for (const t of this.#owned) t.dispose();
    this.#linears.length = 0;
    this.#owned.length = 0;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** A Llama-style model for `config` (numerics.md §7). */
export function createLlama(config: ModelConfig): LlamaModel {
  return new LlamaModel(config);
}
