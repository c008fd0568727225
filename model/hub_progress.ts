// Reports download progress: a bar with speed and ETA on a terminal, a line per file (start with
// size, done with time and speed) elsewhere. Formats text only; the caller decides where it goes.

/** Receives a download's life: start, bytes as they arrive, and the end. */
export interface ProgressSink {
  /** A file starts; `total` is its size when known. */
  start(file: string, total?: number): void;
  /** `loaded` bytes of `file` have arrived. */
  update(file: string, loaded: number, total?: number): void;
  /** `file` arrived whole (`loaded` bytes). */
  done(file: string, loaded: number): void;
}

/** Where {@link progressSink} writes, whether it draws a bar, and its clock (for tests). */
export interface ProgressSinkOptions {
  /** Draw one redrawn bar line (`\r`) instead of a line per event. */
  terminal: boolean;
  /** Receives each piece of text. */
  write: (text: string) => void;
  /** Milliseconds clock; default `performance.now`. */
  now?: () => number;
}

const BAR = 24;

/** "1.5 MB", "532 B": decimal units as huggingface_hub's tqdm bars show them. */
export function formatBytes(n: number): string {
  if (n < 1e3) return `${n} B`;
  const [unit, scale] = n < 1e6 ? ["kB", 1e3] : n < 1e9 ? ["MB", 1e6] : ["GB", 1e9];
  return `${(n / scale).toFixed(1)} ${unit}`;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, "0")}s` : `${s.toFixed(1)}s`;
}

/**
 * A progress sink writing text: on a terminal one bar per file redrawn at most every 100 ms
 * (`file [####    ] 45% 2.4/5.3 MB 12.1 MB/s ETA 0.2s`), else `Downloading file (size)` and
 * `Downloaded file: size in time (speed)` lines.
 */
export function progressSink(opts: ProgressSinkOptions): ProgressSink {
  const now = opts.now ?? (() => performance.now());
  let started = 0;
  let drawn = -Infinity;
  const rate = (loaded: number) => loaded / Math.max((now() - started) / 1000, 1e-3);
  return {
    start(file, total) {
      started = now();
      drawn = -Infinity;
      if (!opts.terminal) {
        opts.write(
          `Downloading ${file} (${total === undefined ? "size unknown" : formatBytes(total)})\n`,
        );
      }
    },
    update(file, loaded, total) {
      if (!opts.terminal || now() - drawn < 100) return;
      drawn = now();
      const speed = rate(loaded);
      const size = total === undefined
        ? formatBytes(loaded)
        : `${formatBytes(loaded)}/${formatBytes(total)}`;
      let bar = "";
      if (total !== undefined && total > 0) {
        const frac = Math.min(loaded / total, 1);
        const eta = formatSeconds((total - loaded) / speed);
        bar = ` [${"#".repeat(Math.round(frac * BAR)).padEnd(BAR)}] ${Math.floor(frac * 100)}%`;
        opts.write(`\r${file}${bar} ${size} ${formatBytes(speed)}/s ETA ${eta}\x1b[K`);
      } else {
        opts.write(`\r${file} ${size} ${formatBytes(speed)}/s\x1b[K`);
      }
    },
    done(file, loaded) {
      const secs = (now() - started) / 1000;
      const line = `${file}: ${formatBytes(loaded)} in ${formatSeconds(secs)} (${
        formatBytes(rate(loaded))
      }/s)`;
      opts.write(opts.terminal ? `\r${line}\x1b[K\n` : `Downloaded ${line}\n`);
    },
  };
}

/** The default sink: stderr, a bar when stderr is a terminal. */
export function stderrProgress(): ProgressSink {
  const encoder = new TextEncoder();
  return progressSink({
    terminal: Deno.stderr.isTerminal(),
    write: (text) => Deno.stderr.writeSync(encoder.encode(text)),
  });
}
