// Results for the unit tests: the answer of a python job that printed 42, with what a test changes.
import type { ExecuteResponse } from '../../shared/rest.js';

export function result(overrides: Partial<ExecuteResponse> = {}): ExecuteResponse {
  return {
    output: '42\n',
    exit_code: 0,
    status: 'done',
    id: 'job-1',
    stdout: '42\n',
    stderr: '',
    signal: null,
    reason: 'exited',
    compile: null,
    error: null,
    output_files: [],
    timings: { queue_ms: 12, compile_ms: null, run_ms: 64, total_ms: 80 },
    ...overrides,
  };
}
