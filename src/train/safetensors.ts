/** safetensors files (the format of Hugging Face's safetensors): an 8-byte little-endian header length, a JSON
 * header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}} padded with
 * spaces to a multiple of 8 bytes, then the raw little-endian tensor bytes. Written and read here directly. */
import { readFileSync } from "node:fs";

export type SafetensorsDType = "F32" | "BF16" | "U8" | "I32" | "U16" | "F64";
const DTYPE_BYTES: Record<SafetensorsDType, number> = { F32: 4, BF16: 2, U8: 1, I32: 4, U16: 2, F64: 8 };

export interface NamedTensor {
  dtype: SafetensorsDType;
  shape: readonly number[];
  /** raw little-endian bytes */
  data: Uint8Array;
}

/** The file bytes for `tensors` (written in the given order) and optional string metadata. */
export function encodeSafetensors(tensors: ReadonlyMap<string, NamedTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === "__metadata__") throw new Error(`safetensors: "__metadata__" is not a tensor name`);
    const expected = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
    if (t.data.length !== expected)
      throw new Error(`safetensors: tensor ${name}: ${t.data.length} bytes for shape [${t.shape.join(", ")}] ${t.dtype} (expected ${expected})`);
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + t.data.length] };
    offset += t.data.length;
  }
  let json = JSON.stringify(header);
  const jsonBytes = () => new TextEncoder().encode(json);
  while (jsonBytes().length % 8 !== 0) json += " ";
  const head = jsonBytes();
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const t of tensors.values()) {
    out.set(t.data, at);
    at += t.data.length;
  }
  return out;
}

export interface SafetensorsFile {
  tensors: Map<string, NamedTensor>;
  metadata: Record<string, string>;
}

/** Parses safetensors bytes; `where` names the source in errors. Tensor data are copies. */
export function decodeSafetensors(bytes: Uint8Array, where: string): SafetensorsFile {
  if (bytes.length < 8) throw new Error(`${where}: not a safetensors file (${bytes.length} bytes)`);
  const headerLen = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLen > bytes.length - 8) throw new Error(`${where}: safetensors header length ${headerLen} exceeds the file`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new Error(`${where}: the safetensors header is not JSON (${(e as Error).message})`);
  }
  const base = 8 + headerLen;
  const tensors = new Map<string, NamedTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype: SafetensorsDType; shape: number[]; data_offsets: [number, number] };
    const width = DTYPE_BYTES[e.dtype];
    if (!width) throw new Error(`${where}: tensor ${name} has unsupported dtype ${String(e.dtype)}`);
    const [begin, end] = e.data_offsets;
    const expected = e.shape.reduce((a, b) => a * b, 1) * width;
    if (end - begin !== expected || base + end > bytes.length || begin < 0)
      throw new Error(`${where}: tensor ${name}: data_offsets [${begin}, ${end}] do not match shape [${e.shape.join(", ")}] ${e.dtype} or the file size`);
    tensors.set(name, { dtype: e.dtype, shape: e.shape, data: bytes.slice(base + begin, base + end) });
  }
  return { tensors, metadata };
}

export function readSafetensors(path: string): SafetensorsFile {
  return decodeSafetensors(new Uint8Array(readFileSync(path)), path);
}
