// The launcher a prepared exec runs: bash waiting on stdin for the argv to exec, and the NUL it
// writes to stderr just before, which tells "the program was launched" from "nothing ran".
import type { StreamName } from './demux.js';

/**
 * Reads a NUL-terminated count, then that many NUL-terminated arguments, from stdin and execs them;
 * the rest of stdin is the program's. bash's `read` takes one byte at a time from a pipe, so it never
 * consumes past its delimiter. No argument is ever parsed by a shell: argv stays an array end to end.
 * Just before the exec it writes one NUL to stderr: the first stderr byte then tells "the program
 * was launched" from "the launcher died or failed first" (nothing ran: safe to run elsewhere).
 */
export const LAUNCHER_SCRIPT = [
  'IFS= read -r -d "" n || exit 125',
  'case $n in "" | 0 | *[!0-9]*) exit 125 ;; esac',
  'a=()',
  'for ((i = 0; i < n; i++)); do IFS= read -r -d "" x || exit 125; a+=("$x"); done',
  "printf '\\0' >&2",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's array expansion, not a template
  'exec "${a[@]}"',
].join('\n');

/** The bytes that tell a launcher which argv to exec. */
export function launcherHeader(argv: readonly string[]): Buffer {
  if (argv.length === 0) throw new Error('A launcher needs a program to run');
  for (const arg of argv) if (arg.includes('\0')) throw new Error('An argument cannot contain NUL');
  return Buffer.from([String(argv.length), ...argv].map((field) => `${field}\0`).join(''), 'utf8');
}

/** Strips the launcher's NUL from stderr and tells whether the program was launched. */
export class LaunchAck {
  launched = false;
  private stderrSeen = false;
  private early = '';
  readonly onOutput: (stream: StreamName, data: Buffer) => void;

  constructor(forward: (stream: StreamName, data: Buffer) => void) {
    this.onOutput = (stream, data) => {
      let rest = data;
      if (stream === 'stdout') this.launched = true; // stdout may overtake the NUL: docker reads two pipes
      if (stream === 'stderr' && !this.stderrSeen) {
        this.stderrSeen = true;
        if (data[0] === 0) {
          this.launched = true;
          rest = data.subarray(1);
        }
      }
      if (!this.launched) {
        this.early += data.toString('utf8');
        return;
      }
      if (rest.length > 0) forward(stream, rest);
    };
  }

  get said(): string {
    const text = this.early.trim().slice(0, 200);
    return text === '' ? '' : `: ${text}`;
  }
}
