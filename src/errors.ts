/** Every failure of quartet-ii surfaces as a QuartetError: a status code of the C ABI and a message that
 * names the function, the argument and the expected value. */

export const STATUS_NAMES: Readonly<Record<number, string>> = {
  0: "OK",
  [-1]: "INVALID_ARGUMENT",
  [-2]: "NULL_POINTER",
  [-3]: "SHAPE",
  [-4]: "NON_FINITE",
  [-5]: "UNSUPPORTED",
  [-6]: "OUT_OF_MEMORY",
  [-7]: "CUDA",
  [-8]: "INTERNAL",
};

export type StatusName =
  | "INVALID_ARGUMENT"
  | "NULL_POINTER"
  | "SHAPE"
  | "NON_FINITE"
  | "UNSUPPORTED"
  | "OUT_OF_MEMORY"
  | "CUDA"
  | "INTERNAL"
  | "LOAD"
  | "DISPOSED";

export class QuartetError extends Error {
  /** The negative C status (0 for errors raised in TypeScript before any native call). */
  readonly status: number;
  readonly code: StatusName;

  constructor(code: StatusName, message: string, status = 0) {
    super(message);
    this.name = "QuartetError";
    this.code = code;
    this.status = status;
  }
}

/** An argument error found in TypeScript, before the native call. */
export function argumentError(fn: string, arg: string, expected: string, got: unknown): QuartetError {
  return new QuartetError("INVALID_ARGUMENT", `${fn}: ${arg} must be ${expected}, got ${describe(got)}`);
}

export function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(describe).join(", ")}]`;
  if (v === null || v === undefined) return String(v);
  if (typeof v === "object") return v.constructor?.name ?? "object";
  return String(v);
}
