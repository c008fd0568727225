// Named errors of model loading that callers may catch: bad safetensors files and Hub failures.
// Plain misuse (wrong argument types, out-of-range values) throws TypeError / RangeError instead.

/**
 * Base class of every error about a malformed safetensors file.
 *
 * @example
 * ```ts
 * import { readSafetensors, SafetensorsError } from "./safetensors.ts";
 * try {
 *   readSafetensors(new Uint8Array(4));
 * } catch (e) {
 *   if (!(e instanceof SafetensorsError)) throw e;
 * }
 * ```
 */
export class SafetensorsError extends Error {
  /**
   * Makes the error; `name` becomes the subclass's name.
   *
   * @param message what is wrong and what to do
   */
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * The 8-byte header length is missing, larger than the file, or larger than 100 MB.
 *
 * @example
 * ```ts
 * import { HeaderLengthError } from "./errors.ts";
 * const e = new HeaderLengthError("Header length \"9\" is larger than the file");
 * console.log(e.name); // "HeaderLengthError"
 * ```
 */
export class HeaderLengthError extends SafetensorsError {}

/**
 * The JSON header does not parse, is not an object, or an entry lacks dtype/shape/data_offsets.
 *
 * @example
 * ```ts
 * import { HeaderFormatError } from "./errors.ts";
 * console.log(new HeaderFormatError("Header is not JSON").name); // "HeaderFormatError"
 * ```
 */
export class HeaderFormatError extends SafetensorsError {}

/**
 * A tensor has a dtype tsight does not read (F32, F16, BF16, I32 and I64 are read).
 *
 * @example
 * ```ts
 * import { UnknownDtypeError } from "./errors.ts";
 * console.log(new UnknownDtypeError("Unknown dtype \"F8_E4M3\"").name); // "UnknownDtypeError"
 * ```
 */
export class UnknownDtypeError extends SafetensorsError {}

/**
 * A tensor's data_offsets point outside the data section or end before they begin.
 *
 * @example
 * ```ts
 * import { OffsetRangeError } from "./errors.ts";
 * console.log(new OffsetRangeError("Offsets out of range").name); // "OffsetRangeError"
 * ```
 */
export class OffsetRangeError extends SafetensorsError {}

/**
 * Tensors overlap, leave a gap, or do not cover the data section exactly.
 *
 * @example
 * ```ts
 * import { TensorLayoutError } from "./errors.ts";
 * console.log(new TensorLayoutError("Tensors overlap").name); // "TensorLayoutError"
 * ```
 */
export class TensorLayoutError extends SafetensorsError {}

/**
 * A tensor's shape times its dtype size differs from its byte length.
 *
 * @example
 * ```ts
 * import { ByteLengthError } from "./errors.ts";
 * console.log(new ByteLengthError("Byte length mismatch").name); // "ByteLengthError"
 * ```
 */
export class ByteLengthError extends SafetensorsError {}

/**
 * A Hub request failed or the cache cannot satisfy an offline load; `url` is the request, if any.
 *
 * @example
 * ```ts
 * import { HubError } from "./errors.ts";
 * const e = new HubError("Offline and not cached", { status: 0 });
 * console.log(e.status); // 0
 * ```
 */
export class HubError extends Error {
  /** HTTP status of the failed response, 0 when no request was made. */
  readonly status: number;
  /** The URL requested, when there was one. */
  readonly url?: string;
  /**
   * Makes the error; `name` becomes the subclass's name.
   *
   * @param message what failed and what to do
   * @param opts the HTTP status (0 when no request was made), the URL and the cause
   */
  constructor(message: string, opts: { status: number; url?: string; cause?: unknown }) {
    super(message, { cause: opts.cause });
    this.name = new.target.name;
    this.status = opts.status;
    this.url = opts.url;
  }
}

/**
 * The Hub answered 404 for a repository or file.
 *
 * @example
 * ```ts
 * import { HubNotFoundError } from "./errors.ts";
 * console.log(new HubNotFoundError("Not found", { status: 404 }).status); // 404
 * ```
 */
export class HubNotFoundError extends HubError {}

/**
 * The Hub answered 401 or 403: the repository is private or gated, or the token is wrong.
 *
 * @example
 * ```ts
 * import { HubAuthError } from "./errors.ts";
 * console.log(new HubAuthError("Set HF_TOKEN", { status: 401 }).name); // "HubAuthError"
 * ```
 */
export class HubAuthError extends HubError {}

/**
 * Offline mode is on and the cache lacks a file the model needs.
 *
 * @example
 * ```ts
 * import { HubOfflineError } from "./errors.ts";
 * console.log(new HubOfflineError("Not cached", { status: 0 }).name); // "HubOfflineError"
 * ```
 */
export class HubOfflineError extends HubError {}

/**
 * A Hub answer is malformed or hostile: a header or file name that cannot safely name a cache
 * path, a redirect to a non-http(s) URL, a JSON file over its size cap. Nothing is written.
 *
 * @example
 * ```ts
 * import { HubResponseError } from "./errors.ts";
 * const e = new HubResponseError("Commit \"..\" is not 40 hex digits", { status: 200 });
 * console.log(e instanceof Error, e.name); // true "HubResponseError"
 * ```
 */
export class HubResponseError extends HubError {}

/**
 * What arrived is not what the Hub promised: a body shorter than its length, cut by a closed
 * connection, or whose hash differs from its ETag. The partial file is deleted.
 *
 * @example
 * ```ts
 * import { HubIntegrityError } from "./errors.ts";
 * console.log(new HubIntegrityError("Body cut short", { status: 200 }).name); // "HubIntegrityError"
 * ```
 */
export class HubIntegrityError extends HubError {}

/**
 * A checkpoint tensor holds NaN or ±Infinity; `tensor` names it, `index` is its first such value.
 *
 * @example
 * ```ts
 * import { NonFiniteWeightError } from "./errors.ts";
 * const e = new NonFiniteWeightError("Tensor \"w\" holds NaN", { tensor: "w", index: 0 });
 * console.log(e.tensor, e.index); // "w" 0
 * ```
 */
export class NonFiniteWeightError extends Error {
  /** The tensor's name in the checkpoint. */
  readonly tensor: string;
  /** Flat index of the first non-finite value. */
  readonly index: number;
  /**
   * Makes the error.
   *
   * @param message which tensor, what value, and what to do
   * @param opts the tensor's name and the first bad index
   */
  constructor(message: string, opts: { tensor: string; index: number }) {
    super(message);
    this.name = "NonFiniteWeightError";
    this.tensor = opts.tensor;
    this.index = opts.index;
  }
}
