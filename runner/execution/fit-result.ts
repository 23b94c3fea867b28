// A result must fit in one runner frame. With large output limits and output that JSON escapes
// badly (control bytes become \u00XX), it may not: cut the biggest text (the combined `output`
// first, as it repeats the other two) until it fits, and say so with `truncated`.
import type { RunResult } from '../../shared/index.js';

type TextField = 'output' | 'stdout' | 'stderr';

export function fitResult(result: RunResult, maxBytes: number): RunResult {
  let fitted = result;
  for (let round = 0; round < 64; round++) {
    const size = Buffer.byteLength(JSON.stringify(fitted));
    if (size <= maxBytes) return fitted;
    if (fitted.files && fitted.files.length > 0) {
      fitted = { ...fitted, files: [], truncated: true };
      continue;
    }
    const fields: TextField[] = ['output', 'stdout', 'stderr'];
    const largest = fields.reduce((a, b) => (fitted[b].length > fitted[a].length ? b : a));
    if (fitted[largest].length === 0) return fitted;
    // Keep the start: that is where a program's output usually says what went wrong.
    const excess = size - maxBytes;
    const keep = Math.max(0, Math.min(fitted[largest].length >> 1, fitted[largest].length - excess));
    fitted = { ...fitted, [largest]: fitted[largest].slice(0, keep), truncated: true };
  }
  return fitted;
}
