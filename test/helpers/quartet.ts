/** Small glue between the library's TypeScript API and the float64 references of reference.ts. */
import { expect } from "bun:test";
import { QuartetError, Tensor, type QuantizedTensor } from "../../src/index.ts";
import type { QuantizedBytes } from "./reference.ts";

/** Host copies of a quantized tensor's codes, scales and tensor scale. */
export function bytesOf(q: QuantizedTensor): QuantizedBytes {
  return {
    codes: q.codes.toBytes(),
    scales: q.scales.toBytes(),
    g: q.tensorScaleValue(),
    R: q.rows,
    K: q.cols,
    layout: q.scaleLayout,
  };
}

/** An f32 CPU tensor [rows, cols]. */
export function f32(data: Float32Array | readonly number[], rows: number, cols: number): Tensor {
  return Tensor.fromFloat32(data instanceof Float32Array ? data : Float32Array.from(data), [rows, cols]);
}

/** Runs fn, asserts it throws a QuartetError with `code` whose message contains every string of `names`. */
export function expectQuartetError(fn: () => unknown, code: string, names: readonly string[]): QuartetError {
  let err: unknown = null;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(QuartetError);
  const qe = err as QuartetError;
  expect(qe.code).toBe(code as QuartetError["code"]);
  for (const n of names) expect(qe.message).toContain(n);
  return qe;
}
