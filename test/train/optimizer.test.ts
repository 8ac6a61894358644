/** The optimizer ops and AdamW: quartet_sum_squares equals the pairwise tree of numerics.md §0 bit for bit,
 * quartet_adamw_step equals a float32 emulation of the formula in quartet.h bit for bit, and AdamW decays only
 * the parameters marked `decay`, follows torch.optim.AdamW, and refuses bad arguments. */
import { describe, expect, test, setDefaultTimeout } from "bun:test";
import { native, QuartetError, Tensor } from "../../src/index.ts";
import { AdamW, clipFactor, globalNorm, sumSquares } from "../../src/train/optimizer.ts";
import type { Parameter } from "../../src/model/types.ts";
import { gaussian } from "../helpers/random.ts";

// Million-element tensors on a loaded 2-core machine can pass bun's 5 s default.
setDefaultTimeout(300_000);

const f = Math.fround;

/** PSUM over the zero-padded power of two, in binary64, of exact squares. */
function treeSumSquares(x: Float32Array): number {
  let len = 1;
  while (len < x.length) len *= 2;
  let buf = new Float64Array(len);
  for (let i = 0; i < x.length; ++i) buf[i] = x[i]! * x[i]!;
  while (buf.length > 1) {
    const next = new Float64Array(buf.length / 2);
    for (let i = 0; i < next.length; ++i) next[i] = buf[2 * i]! + buf[2 * i + 1]!;
    buf = next;
  }
  return buf[0]!;
}

function powBySquaring(base: number, e: number): number {
  let r = 1;
  while (e > 0) {
    if (e & 1) r *= base;
    base *= base;
    e = Math.floor(e / 2);
  }
  return r;
}

/** The per-element formula of quartet_adamw_step in float32 (Math.fround after every operation). */
function adamwReference(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, step: number,
  o: { lr: number; beta1: number; beta2: number; eps: number; wd: number; scale: number }) {
  const [lr, b1, b2, eps, wd, scale] = [f(o.lr), f(o.beta1), f(o.beta2), f(o.eps), f(o.wd), f(o.scale)];
  const decay = f(1 - lr * wd);
  const stepSize = f(lr / (1 - powBySquaring(b1, step)));
  const rootC2 = f(Math.sqrt(1 - powBySquaring(b2, step)));
  const omb1 = f(1 - b1), omb2 = f(1 - b2);
  for (let i = 0; i < w.length; ++i) {
    const gi = f(g[i]! * scale);
    const mi = f(f(b1 * m[i]!) + f(omb1 * gi));
    const vi = f(f(b2 * v[i]!) + f(omb2 * f(gi * gi)));
    const dec = f(w[i]! * decay);
    const denom = f(f(f(Math.sqrt(vi)) / rootC2) + eps);
    m[i] = mi;
    v[i] = vi;
    w[i] = f(dec - f(stepSize * f(mi / denom)));
  }
}

function param(name: string, values: Float32Array, grad: Float32Array, decay: boolean): Parameter {
  return { name, data: Tensor.fromFloat32(values, [values.length]), grad: Tensor.fromFloat32(grad, [grad.length]), decay };
}

describe("quartet_sum_squares", () => {
  test("equals the binary64 pairwise tree bit for bit (sizes around the 1024 chunk and multi-level)", () => {
    const sizes = [1, 3, 1000, 1024, 1025, 4096 + 7, 1024 * 1024 + 3];
    const xs = sizes.map((n, i) => gaussian(n, 100 + i));
    const got = sumSquares(xs.map((x) => Tensor.fromFloat32(x, [x.length])));
    xs.forEach((x, i) => expect(got[i]).toBe(treeSumSquares(x)));
  });

  test("a NaN or Inf propagates into that tensor's sum only", () => {
    const a = gaussian(2000, 1), b = gaussian(50, 2);
    b[17] = Number.POSITIVE_INFINITY;
    const c = gaussian(10, 3);
    c[3] = Number.NaN;
    const got = sumSquares([a, b, c].map((x) => Tensor.fromFloat32(x, [x.length])));
    expect(Number.isFinite(got[0]!)).toBe(true);
    expect(got[1]).toBe(Number.POSITIVE_INFINITY);
    expect(Number.isNaN(got[2]!)).toBe(true);
  });

  test("globalNorm and clipFactor", () => {
    expect(globalNorm([9, 16])).toBe(5);
    expect(clipFactor(5, 1)).toBeCloseTo(1 / 5, 6);
    expect(clipFactor(0.5, 1)).toBe(1);
    expect(clipFactor(100, 0)).toBe(1);
  });

  test("bad arguments are refused with a message", () => {
    const lib = native();
    const out = new Float64Array(1);
    expect(lib.quartet_sum_squares(0, 0, new BigUint64Array(1), new BigInt64Array(1), out)).toBe(-3);
    expect(String(lib.quartet_last_error())).toContain("count");
    expect(lib.quartet_sum_squares(0, 1, new BigUint64Array(1), BigInt64Array.of(4n), out)).toBe(-2);
    expect(String(lib.quartet_last_error())).toContain("tensors[0]");
  });
});

describe("quartet_adamw_step", () => {
  test("equals the float32 formula bit for bit over several steps", () => {
    const n = 5000;
    const w0 = gaussian(n, 7), m0 = new Float32Array(n), v0 = new Float32Array(n);
    const w = Tensor.fromFloat32(w0, [n]), m = Tensor.zeros([n]), v = Tensor.zeros([n]);
    const o = { lr: 1.2e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, wd: 0.1, scale: 0.37 };
    for (let step = 1; step <= 5; ++step) {
      const g0 = gaussian(n, 50 + step);
      const g = Tensor.fromFloat32(g0, [n]);
      const lib = native();
      expect(lib.quartet_adamw_step(0, w.handle, g.handle, m.handle, v.handle, n, step, o.lr, o.beta1, o.beta2, o.eps, o.wd, o.scale)).toBe(0);
      adamwReference(w0, g0, m0, v0, step, o);
      expect(w.toBytes()).toEqual(new Uint8Array(w0.buffer));
      expect(m.toBytes()).toEqual(new Uint8Array(m0.buffer));
      expect(v.toBytes()).toEqual(new Uint8Array(v0.buffer));
    }
  });

  test("matches torch.optim.AdamW's update (float64 reference, relative error < 1e-5)", () => {
    // torch: p *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr/c1 * m / (sqrt(v)/sqrt(c2) + eps)
    const n = 64, lr = 1e-2, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.01;
    const w0 = gaussian(n, 1), w = Tensor.fromFloat32(w0, [n]), m = Tensor.zeros([n]), v = Tensor.zeros([n]);
    const pw = Float64Array.from(w0), pm = new Float64Array(n), pv = new Float64Array(n);
    for (let t = 1; t <= 20; ++t) {
      const g0 = gaussian(n, 1000 + t);
      native().quartet_adamw_step(0, w.handle, Tensor.fromFloat32(g0, [n]).handle, m.handle, v.handle, n, t, lr, b1, b2, eps, wd, 1);
      for (let i = 0; i < n; ++i) {
        pw[i]! *= 1 - lr * wd;
        pm[i] = b1 * pm[i]! + (1 - b1) * g0[i]!;
        pv[i] = b2 * pv[i]! + (1 - b2) * g0[i]! * g0[i]!;
        pw[i]! -= ((lr / (1 - b1 ** t)) * pm[i]!) / (Math.sqrt(pv[i]!) / Math.sqrt(1 - b2 ** t) + eps);
      }
    }
    const got = w.toFloat32Array();
    for (let i = 0; i < n; ++i) expect(Math.abs(got[i]! - pw[i]!)).toBeLessThan(1e-5 * Math.max(1, Math.abs(pw[i]!)));
  });

  test("bad arguments are refused naming the argument and its range", () => {
    const lib = native();
    const a = new Float32Array(4), b = new Float32Array(4), c = new Float32Array(4), d = new Float32Array(4);
    const cases: [() => number, string][] = [
      [() => lib.quartet_adamw_step(0, a, b, c, d, 4, 0, 1e-3, 0.9, 0.95, 1e-8, 0.1, 1), "step must be >= 1"],
      [() => lib.quartet_adamw_step(0, a, b, c, d, 4, 1, -1, 0.9, 0.95, 1e-8, 0.1, 1), "lr must be >= 0"],
      [() => lib.quartet_adamw_step(0, a, b, c, d, 4, 1, 1e-3, 1, 0.95, 1e-8, 0.1, 1), "beta1 must be in [0, 1)"],
      [() => lib.quartet_adamw_step(0, a, b, c, d, 4, 1, 1e-3, 0.9, 0.95, 0, 0.1, 1), "eps must be > 0"],
      [() => lib.quartet_adamw_step(0, a, b, c, d, 4, 1, 1e-3, 0.9, 0.95, 1e-8, 0.1, Number.NaN), "grad_scale must be finite"],
      [() => lib.quartet_adamw_step(0, a, b, c, d, 4, 1, 2, 0.9, 0.95, 1e-8, 0.5, 1), "lr * weight_decay must be < 1"],
      [() => lib.quartet_adamw_step(0, a, a, c, d, 4, 1, 1e-3, 0.9, 0.95, 1e-8, 0.1, 1), "must not overlap"],
      [() => lib.quartet_adamw_step(0, a, b, c, d, 0, 1, 1e-3, 0.9, 0.95, 1e-8, 0.1, 1), "n must be > 0"],
    ];
    for (const [call, text] of cases) {
      expect(call()).toBeLessThan(0);
      expect(String(lib.quartet_last_error())).toContain(text);
    }
  });
});

describe("AdamW", () => {
  test("decays only parameters marked decay; a zero gradient moves only decayed weights", () => {
    const ones = new Float32Array(8).fill(1);
    const decayed = param("block0.qkv", ones.slice(), new Float32Array(8), true);
    const plain = param("embed", ones.slice(), new Float32Array(8), false);
    const opt = new AdamW([decayed, plain], { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
    opt.step(0.01, 1);
    expect(opt.t).toBe(1);
    expect(decayed.data.toFloat32Array()[0]).toBe(f(1 * f(1 - f(0.01) * f(0.1))));
    expect(plain.data.toFloat32Array()[0]).toBe(1);
  });

  test("gradScale scales the gradient (clipping): Adam's first step moves every weight by about lr either way", () => {
    const g = Float32Array.from([4, -0.001, 2, -3]);
    const p = param("w", new Float32Array(4), g, false);
    const opt = new AdamW([p], { beta1: 0.9, beta2: 0.95, eps: 1e-12, weightDecay: 0 });
    const [s] = opt.gradSumSquares();
    expect(s).toBe(16 + f(0.001) * f(0.001) + 4 + 9);
    opt.step(0.1, clipFactor(Math.sqrt(s!), 1));
    const w = p.data.toFloat32Array();
    expect(Array.from(w, (x) => Math.round(x * 1000) / 1000)).toEqual([-0.1, 0.1, -0.1, 0.1]);
  });

  test("state() and loadState() round-trip exactly; a mismatched state is refused", () => {
    const p = param("w", gaussian(100, 3), gaussian(100, 4), true);
    const opt = new AdamW([p], { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
    opt.step(1e-3, 1);
    opt.step(1e-3, 0.5);
    const s = opt.state();
    const q = param("w", p.data.toFloat32Array().slice(), gaussian(100, 4), true);
    const opt2 = new AdamW([q], opt.options);
    opt2.loadState(s);
    opt.step(1e-3, 1);
    opt2.step(1e-3, 1);
    expect(q.data.toBytes()).toEqual(p.data.toBytes());
    expect(opt2.t).toBe(3);
    const other = new AdamW([param("x", new Float32Array(100), new Float32Array(100), true)], opt.options);
    expect(() => other.loadState(s)).toThrow("no m for parameter x");
  });

  test("refuses parameters with duplicate names or non-f32 data", () => {
    const a = param("w", new Float32Array(4), new Float32Array(4), true);
    expect(() => new AdamW([a, a], { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 })).toThrow("two parameters are named");
    const bad: Parameter = { name: "b", data: Tensor.fromFloat32(new Float32Array(4), [4], { dtype: "bf16" }), grad: Tensor.zeros([4]), decay: false };
    expect(() => new AdamW([bad], { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 })).toThrow("f32");
  });

  test("a native error surfaces as a QuartetError", () => {
    const p = param("w", new Float32Array(4), new Float32Array(4), true);
    const opt = new AdamW([p], { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
    expect(() => opt.step(Number.NaN, 1)).toThrow(QuartetError);
  });
});
