/** The Llama-style decoder of numerics.md §7 in float64, forward and backward written out by hand from the op
 * references of reference.ts: the yardstick for LlamaModel's loss and gradients. Parameters are Float64Arrays
 * by name (the names of LlamaModel.parameters()). */
import {
  attentionBackwardRef, attentionRef, crossEntropyRef, rmsnormBackwardRef, rmsnormRef, ropeRef, swigluBackwardRef, swigluRef,
} from "./reference.ts";

export interface RefConfig {
  vocabSize: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  mlpHidden: number;
  seqLen: number;
  batch: number;
}

type Params = Record<string, Float64Array>;
const EPS = 1e-5;

/** C[M, N] = A[M, K] B[N, K]^T */
function mmNT(a: Float64Array, b: Float64Array, M: number, N: number, K: number): Float64Array {
  const c = new Float64Array(M * N);
  for (let m = 0; m < M; ++m)
    for (let n = 0; n < N; ++n) {
      let s = 0;
      for (let k = 0; k < K; ++k) s += a[m * K + k]! * b[n * K + k]!;
      c[m * N + n] = s;
    }
  return c;
}
/** C[M, N] = A[M, K] B[K, N] */
function mmNN(a: Float64Array, b: Float64Array, M: number, N: number, K: number): Float64Array {
  const c = new Float64Array(M * N);
  for (let m = 0; m < M; ++m)
    for (let k = 0; k < K; ++k) {
      const av = a[m * K + k]!;
      if (av === 0) continue;
      for (let n = 0; n < N; ++n) c[m * N + n]! += av * b[k * N + n]!;
    }
  return c;
}
/** C[M, N] = A[K, M]^T B[K, N] */
function mmTN(a: Float64Array, b: Float64Array, M: number, N: number, K: number): Float64Array {
  const c = new Float64Array(M * N);
  for (let k = 0; k < K; ++k)
    for (let m = 0; m < M; ++m) {
      const av = a[k * M + m]!;
      if (av === 0) continue;
      for (let n = 0; n < N; ++n) c[m * N + n]! += av * b[k * N + n]!;
    }
  return c;
}
function addv(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, i) => v + b[i]!);
}

/** Mean cross-entropy over the targets >= 0, and (with grad) the gradient of every parameter. */
export function referenceStep(c: RefConfig, p: Params, tokens: Int32Array, targets: Int32Array, grad: boolean) {
  const T = c.batch * c.seqLen, d = c.dModel, V = c.vocabSize, h = c.mlpHidden, H = c.nHeads, hd = d / H;
  const shape = { B: c.batch, S: c.seqLen, H, hd };
  let valid = 0;
  for (const t of targets) if (t >= 0) ++valid;
  let x: Float64Array = new Float64Array(T * d);
  for (let t = 0; t < T; ++t) x.set(p.embed!.subarray(tokens[t]! * d, tokens[t]! * d + d), t * d);
  const saved: { xIn: Float64Array; n1: Float64Array; qkvR: Float64Array; att: Float64Array; xm: Float64Array; n2: Float64Array; gu: Float64Array; hm: Float64Array }[] = [];
  for (let l = 0; l < c.nLayers; ++l) {
    const b = (s: string) => p[`block${l}.${s}`]!;
    const n1 = rmsnormRef(x, T, d, b("norm1"), EPS).y;
    const qkvR = ropeRef(mmNT(n1, b("qkv"), T, 3 * d, d), T, 3 * d, 2 * H, hd, c.seqLen);
    const att = attentionRef(qkvR, shape).out;
    const xm = addv(x, mmNT(att, b("attn_out"), T, d, d));
    const n2 = rmsnormRef(xm, T, d, b("norm2"), EPS).y;
    const gu = mmNT(n2, b("up_gate"), T, 2 * h, d);
    const hm = swigluRef(gu, T, h);
    saved.push({ xIn: x, n1, qkvR, att, xm, n2, gu, hm });
    x = addv(xm, mmNT(hm, b("down"), T, d, h));
  }
  const nf = rmsnormRef(x, T, d, p.final_norm!, EPS).y;
  const logits = mmNT(nf, p.lm_head!, T, V, d);
  const ce = crossEntropyRef(logits, T, V, targets, valid ? 1 / valid : 0);
  const loss = valid ? ce.losses.reduce((a, v) => a + v, 0) / valid : 0;
  if (!grad) return { loss, grads: null };

  const g: Params = {};
  g.lm_head = mmTN(ce.grad, nf, V, d, T);
  const dnf = mmNN(ce.grad, p.lm_head!, T, d, V);
  const fin = rmsnormBackwardRef(x, T, d, p.final_norm!, EPS, dnf);
  g.final_norm = fin.dw;
  let dx: Float64Array = fin.dx;
  for (let l = c.nLayers - 1; l >= 0; --l) {
    const b = (s: string) => p[`block${l}.${s}`]!;
    const s = saved[l]!;
    g[`block${l}.down`] = mmTN(dx, s.hm, d, h, T);
    const dhm = mmNN(dx, b("down"), T, h, d);
    const dgu = swigluBackwardRef(s.gu, dhm, T, h);
    g[`block${l}.up_gate`] = mmTN(dgu, s.n2, 2 * h, d, T);
    const n2b = rmsnormBackwardRef(s.xm, T, d, b("norm2"), EPS, mmNN(dgu, b("up_gate"), T, d, 2 * h));
    g[`block${l}.norm2`] = n2b.dw;
    dx = addv(dx, n2b.dx);
    g[`block${l}.attn_out`] = mmTN(dx, s.att, d, d, T);
    const datt = mmNN(dx, b("attn_out"), T, d, d);
    const dqkv = ropeRef(attentionBackwardRef(s.qkvR, datt, shape).dqkv, T, 3 * d, 2 * H, hd, c.seqLen, true);
    g[`block${l}.qkv`] = mmTN(dqkv, s.n1, 3 * d, d, T);
    const n1b = rmsnormBackwardRef(s.xIn, T, d, b("norm1"), EPS, mmNN(dqkv, b("qkv"), T, d, 3 * d));
    g[`block${l}.norm1`] = n1b.dw;
    dx = addv(dx, n1b.dx);
  }
  g.embed = new Float64Array(V * d);
  for (let t = 0; t < T; ++t) for (let k = 0; k < d; ++k) g.embed[tokens[t]! * d + k]! += dx[t * d + k]!;
  return { loss, grads: g };
}
