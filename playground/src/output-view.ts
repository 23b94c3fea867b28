/// <reference lib="dom" />
// The Output region: the status line (exit code, end reason, timings), the compile stage as its own
// section, the run's output with stdout, stderr and typed input told apart (a class, a data
// attribute, and a prefix only screen readers read), notes (dropped chunks, cut output, errors),
// and the input line of an interactive run. Output is appended as it arrives, not redrawn, at most
// once per animation frame.
import { byId, h } from '../../shared/dom.js';
import { acceptsInput, type OutputPiece, type RunState, type Stream } from './run-state.js';
import { describeError, summarize } from './run-summary.js';

const SPOKEN_PREFIX: Record<Stream, string> = { stdout: '', stderr: 'stderr: ', stdin: 'input: ' };

export interface OutputActions {
  /** A line the user typed for the running program (with its newline). */
  input(data: string): void;
  /** The user ended the program's input. */
  eof(): void;
}

export class OutputView {
  readonly #status = byId('run-status');
  readonly #headline = byId('run-headline');
  readonly #details = byId('run-details');
  readonly #compile = byId('compile');
  readonly #compileTitle = byId('compile-title');
  readonly #compileOutput = byId('compile-output');
  readonly #console = byId('run-output');
  readonly #note = byId('run-note');
  readonly #inputLine = byId<HTMLFormElement>('input-line');
  readonly #input = byId<HTMLInputElement>('program-input');
  readonly #eof = byId<HTMLButtonElement>('send-eof');
  /** What the console shows: the run, its pieces, the last one's length. */
  #shown = { id: null as string | null, count: 0, lastLength: 0, wholeStreams: false };
  #lastText: Text | null = null;
  #inputWasShown = false;
  /** The run to draw at the next animation frame (output can come in thousands of chunks). */
  #pending: RunState | null = null;
  #frame: number | null = null;

  constructor(actions: OutputActions) {
    this.#inputLine.addEventListener('submit', (event) => {
      event.preventDefault();
      actions.input(`${this.#input.value}\n`);
      this.#input.value = '';
    });
    this.#input.addEventListener('keydown', (event) => {
      // Ctrl-D ends the input, as in a terminal, when the line is empty.
      if (event.key === 'd' && event.ctrlKey && this.#input.value === '') {
        event.preventDefault();
        actions.eof();
      }
    });
    this.#eof.addEventListener('click', () => {
      if (this.#input.value !== '') actions.input(this.#input.value);
      this.#input.value = '';
      actions.eof();
    });
  }

  /** Draws `run` at the next animation frame: one layout per frame however fast output comes. */
  render(run: RunState | null): void {
    this.#pending = run;
    this.#frame ??= requestAnimationFrame(() => {
      this.#frame = null;
      this.#draw(this.#pending);
    });
  }

  #draw(run: RunState | null): void {
    const summary = summarize(run);
    this.#status.dataset.tone = summary.tone;
    this.#headline.textContent = summary.headline;
    // Each detail on one line ("total 1.41 s" never breaks), the separators between them.
    this.#details.replaceChildren(
      ...summary.details.flatMap((detail, i) => [i > 0 ? ' · ' : '', h('span', { class: 'detail' }, detail)]),
    );
    this.#renderCompile(run);
    this.#renderConsole(run);
    this.#renderNote(run);
    const showInput = acceptsInput(run);
    this.#inputLine.hidden = !showInput;
    if (showInput && !this.#inputWasShown) this.#input.focus();
    this.#inputWasShown = showInput;
  }

  #renderCompile(run: RunState | null): void {
    const compile = run?.result?.compile ?? null;
    const failed = run?.result?.reason === 'compile_failed';
    this.#compile.hidden = compile === null || (!failed && compile.output === '');
    this.#compile.dataset.failed = String(failed);
    this.#compileTitle.textContent = failed ? 'Compile error' : 'Compiler output';
    this.#compileOutput.textContent = compile?.output ?? '';
  }

  #renderConsole(run: RunState | null): void {
    const pieces = run?.pieces ?? [];
    const shown = this.#shown;
    const last = pieces[shown.count - 1];
    // With live chunks dropped, the run's pieces were replaced by its whole streams: redraw once.
    const wholeStreams = (run?.droppedChunks ?? 0) > 0;
    const continues =
      run !== null &&
      shown.id === run.id &&
      wholeStreams === shown.wholeStreams &&
      pieces.length >= shown.count &&
      (shown.count === 0 || (last !== undefined && last.text.length >= shown.lastLength));
    if (!continues) {
      this.#console.replaceChildren();
      this.#lastText = null;
      shown.count = 0;
      shown.lastLength = 0;
    }
    shown.id = run?.id ?? null;
    shown.wholeStreams = wholeStreams;
    // The last piece shown may have grown; then come the new ones.
    const grown = pieces[shown.count - 1];
    if (grown && this.#lastText && grown.text.length > shown.lastLength) {
      this.#lastText.appendData(grown.text.slice(shown.lastLength));
    }
    for (const piece of pieces.slice(shown.count)) this.#appendPiece(piece);
    shown.count = pieces.length;
    shown.lastLength = pieces[pieces.length - 1]?.text.length ?? 0;
    this.#console.dataset.empty = String(pieces.length === 0);
    // A program that did not compile has no output to show: the compile section says why.
    this.#console.hidden = run?.result?.reason === 'compile_failed';
    if (pieces.length > 0) this.#console.scrollTop = this.#console.scrollHeight;
  }

  #appendPiece(piece: OutputPiece): void {
    const text = document.createTextNode(piece.text);
    const prefix = SPOKEN_PREFIX[piece.stream];
    this.#console.append(
      h(
        'span',
        { class: `piece ${piece.stream}`, 'data-stream': piece.stream },
        prefix ? h('span', { class: 'visually-hidden' }, prefix) : null,
        text,
      ),
    );
    this.#lastText = text;
  }

  #renderNote(run: RunState | null): void {
    const notes: string[] = [];
    const result = run?.result;
    if (run?.phase === 'ended' && !result && run.failure && run.failure.code !== 'cancelled') {
      notes.push(describeError(run.failure));
    }
    if (result?.reason === 'compile_failed') notes.push('The program did not run: the compile stage failed.');
    if (result && run && run.droppedChunks > 0) {
      notes.push(
        `${run.droppedChunks} chunks of live output did not reach the page: stdout and stderr are shown whole, one after the other.`,
      );
    }
    if (result?.reason === 'output_limit') {
      notes.push('The output reached its limit: the program was stopped and the rest of its output cut.');
    }
    if (result?.status === 'done' && result.reason === 'exited' && run?.pieces.length === 0) {
      notes.push('The program printed nothing.');
    }
    this.#note.hidden = notes.length === 0;
    this.#note.replaceChildren(...notes.map((note) => h('span', {}, note)));
  }
}
