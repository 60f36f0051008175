// Where the CLI's output goes wrong: stdout on a full disk (/dev/full: ENOSPC), stdout whose reader went
// away (`| head`: EPIPE), an -o file in a missing directory. Each becomes an OutputError with a one-line
// message (the system error is its `cause`), which main.ts prints as such and exits 1 — or, for EPIPE,
// exits quietly with 0: the reader chose to stop reading, as with ripgrep (the rest of the input is not read).
//
// stdout's errors arrive as 'error' events, possibly after the write that caused them returned; a listener
// (guardStdout) keeps the first one, so that no such event is ever an uncaught exception, and the commands
// check it after each chunk (to stop early) and once at the end (settleStdout), before exiting 0.

import { promises as fsp } from 'node:fs';
import { describeError } from './input';

export class OutputError extends Error {
  /** The system error code (EPIPE, ENOSPC, ENOENT, …) when there is one. */
  readonly code: string | undefined;
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, opts);
    this.name = 'OutputError';
    this.code = (opts.cause as NodeJS.ErrnoException | undefined)?.code;
  }
}

/** The reader of our stdout went away (EPIPE): not a failure of ours. */
export function isReaderGone(e: unknown): boolean {
  return e instanceof OutputError && e.code === 'EPIPE';
}

const guarded = new WeakSet<NodeJS.WritableStream>();
const failures = new WeakMap<NodeJS.WritableStream, Error>();

/** Keeps the first error of `stream` (default stdout) instead of letting it crash the process. Idempotent. */
export function guardStdout(stream: NodeJS.WritableStream = process.stdout): void {
  if (guarded.has(stream)) return;
  guarded.add(stream);
  stream.on('error', (e: Error) => {
    if (!failures.has(stream)) failures.set(stream, e);
  });
}

function stdoutError(e: unknown): OutputError {
  return new OutputError(`cannot write to stdout: ${describeError(e)}`, { cause: e });
}

/** Throws an OutputError when stdout has failed. */
export function checkStdout(stream: NodeJS.WritableStream = process.stdout): void {
  const e = failures.get(stream);
  if (e) throw stdoutError(e);
}

/** Waits until what was written to stdout was handed to the kernel; throws an OutputError if it failed. */
export async function settleStdout(stream: NodeJS.WritableStream = process.stdout): Promise<void> {
  guardStdout(stream);
  checkStdout(stream);
  const err = await new Promise<Error | null | undefined>((resolve) => {
    if ((stream as NodeJS.WritableStream & { destroyed?: boolean }).destroyed) return resolve(null);
    stream.write('', (e) => resolve(e));
  });
  checkStdout(stream);
  if (err) throw stdoutError(err);
}

/** Writes text to stdout and waits for it; an OutputError if it cannot be written. */
export async function writeStdout(text: string, stream: NodeJS.WritableStream = process.stdout): Promise<void> {
  guardStdout(stream);
  checkStdout(stream);
  const err = await new Promise<Error | null | undefined>((resolve) => stream.write(text, (e) => resolve(e)));
  checkStdout(stream);
  if (err) throw stdoutError(err);
}

/** Writes a whole output file (-o): an OutputError naming it if that fails. */
export async function writeOutputFile(file: string, text: string): Promise<void> {
  try {
    await fsp.writeFile(file, text);
  } catch (e) {
    throw new OutputError(`cannot write ${file}: ${describeError(e)}`, { cause: e });
  }
}
