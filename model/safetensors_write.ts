// Writes safetensors files from float32/int32 typed arrays: header space-padded to a multiple
// of 8, tensors in sorted-name order. Used by tests and benches to make checkpoints.

/** A tensor to write: F32 or I32 data in row-major order. */
export interface TensorToWrite {
  /** Dtype to store. */
  dtype: "F32" | "I32";
  /** Dimensions; their product is `data.length`. */
  shape: readonly number[];
  /** Row-major values. */
  data: Float32Array | Int32Array | readonly number[];
}

/**
 * Serializes tensors as safetensors: tensors in sorted-name order, the JSON header space-padded
 * so the data starts at a multiple of 8.
 *
 * @example
 * ```ts
 * import { writeSafetensors } from "./safetensors.ts";
 * const bytes = writeSafetensors({ b: { dtype: "F32", shape: [1], data: [0.5] } }, { format: "pt" });
 * console.log(bytes.byteLength % 8); // 4 (8-byte length + padded header + 4 data bytes)
 * ```
 */
export function writeSafetensors(
  tensors: Record<string, TensorToWrite>,
  metadata?: Record<string, string>,
): Uint8Array<ArrayBuffer> {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    if (t.dtype !== "F32" && t.dtype !== "I32") {
      throw new TypeError(
        `Tensor "${name}" has dtype "${t.dtype}": writeSafetensors writes F32 and I32`,
      );
    }
    const size = t.shape.reduce((a, d) => a * d, 1);
    if (size !== t.data.length) {
      throw new RangeError(
        `Tensor "${name}" has shape "[${
          t.shape.join(", ")
        }]" (${size} elements) but ${t.data.length} values`,
      );
    }
    header[name] = {
      dtype: t.dtype,
      shape: [...t.shape],
      data_offsets: [offset, offset + 4 * size],
    };
    offset += 4 * size;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded !== json.byteLength) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  let pos = 8 + padded;
  for (const name of names) {
    const t = tensors[name];
    const arr = t.dtype === "F32" ? Float32Array.from(t.data) : Int32Array.from(t.data);
    out.set(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength), pos);
    pos += arr.byteLength;
  }
  return out;
}
