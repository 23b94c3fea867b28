// What a runner's result becomes in the job record: the run's fields, and text capped so one
// chatty job cannot bloat the store (lowdb rewrites the whole file on every write).
import type { JobRecord, RunResult, StageResult } from '../../shared/index.js';

/** Cuts a string to at most `maxBytes` of UTF-8, never inside a character. */
export function capUtf8(text: string, maxBytes: number): { text: string; cut: boolean } {
  // Cheap exits first: a string can never take more than 3 UTF-8 bytes per UTF-16 unit.
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text, 'utf8') <= maxBytes) return { text, cut: false };
  const bytes = Buffer.from(text, 'utf8');
  let end = maxBytes;
  // Step back over continuation bytes (10xxxxxx) so the cut falls on a character boundary.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return { text: bytes.subarray(0, end).toString('utf8'), cut: true };
}

type StageText = Pick<StageResult, 'stdout' | 'stderr' | 'output'>;

function capStage<T extends StageText>(stage: T, maxBytes: number): { stage: T; cut: boolean } {
  const stdout = capUtf8(stage.stdout, maxBytes);
  const stderr = capUtf8(stage.stderr, maxBytes);
  const output = capUtf8(stage.output, maxBytes);
  return {
    stage: { ...stage, stdout: stdout.text, stderr: stderr.text, output: output.text },
    cut: stdout.cut || stderr.cut || output.cut,
  };
}

/** The job-record fields of a finished run, each text field at most `maxBytes`. */
export function storedResult(
  result: RunResult,
  maxBytes: number,
): Pick<
  JobRecord,
  | 'stdout'
  | 'stderr'
  | 'output'
  | 'exit_code'
  | 'signal'
  | 'reason'
  | 'compile'
  | 'output_files'
  | 'output_capped'
> {
  const run = capStage(result, maxBytes);
  const compile = result.compile ? capStage(result.compile, maxBytes) : null;
  return {
    stdout: run.stage.stdout,
    stderr: run.stage.stderr,
    output: run.stage.output,
    exit_code: result.exit_code,
    signal: result.signal,
    reason: result.reason,
    compile: compile?.stage ?? null,
    output_files: result.files ?? [],
    output_capped: run.cut || (compile?.cut ?? false),
  };
}
