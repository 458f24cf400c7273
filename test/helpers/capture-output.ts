// Runs an in-process command with its stdout captured and its stderr muted (or captured): the tests' replacement for a
// CLI start, which costs seconds.

export interface CapturedOutput<T> {
  value: T;
  /** The string chunks written to stdout while `f` ran. */
  stdout: string;
  /** The string chunks written to stderr while `f` ran when `stderr: 'capture'`; '' when muted. */
  stderr: string;
}

export interface CaptureOptions {
  /** 'mute' (default): the command's progress and warnings are dropped; 'capture': returned as `stderr`. */
  stderr?: 'mute' | 'capture';
}

type Write = typeof process.stdout.write;

/**
 * Replaces `stream.write` so that string chunks (the command's output) go to `sink` and byte chunks pass through:
 * those are the test runner's own reports (node --test's child serialises them to stdout as bytes), which must reach it
 * even while a test runs. Returns the original write.
 */
function divert(stream: NodeJS.WriteStream, sink: (s: string) => void): Write {
  const write = stream.write.bind(stream);
  stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
    if (typeof chunk !== 'string') return (write as (c: Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    sink(chunk);
    return true;
  }) as Write;
  return write;
}

/** `f()`'s value with what it wrote to stdout (and stderr); the streams are restored when it settles, and its error is rethrown. */
export async function captureOutput<T>(f: () => Promise<T>, o: CaptureOptions = {}): Promise<CapturedOutput<T>> {
  let stdout = '';
  let stderr = '';
  const keepStderr = o.stderr === 'capture';
  const write = divert(process.stdout, (s) => {
    stdout += s;
  });
  const writeErr = divert(process.stderr, (s) => {
    if (keepStderr) stderr += s;
  });
  try {
    return { value: await f(), stdout, stderr };
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
  }
}
