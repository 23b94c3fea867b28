/// <reference lib="dom" />
// The page's controller: wires the toolbar, the editor, the socket and the views. Decisions live in
// the pure modules (run-state, session-state, language-options, share-link, run-summary); this
// file turns the user's actions into frames and the gateway's frames into state, and renders.
import type { GatewayToClient } from '../../shared/client-protocol.js';
import { byId } from '../../shared/dom.js';
import { MAX_LIMITS } from '../../shared/limits.js';
import { type ApiClient, ApiError } from './api-client.js';
import type { CodeEditor } from './editor.js';
import { exampleFor } from './examples.js';
import type { ClientFrame, GatewaySocket, SocketEnd } from './gateway-socket.js';
import type { KeyChoice, KeyDialog } from './key-dialog.js';
import { type LanguageOption, languageOptions, matchLanguage, pickLanguage } from './language-options.js';
import { LanguagePicker } from './language-picker.js';
import type { NoticeView } from './notice-view.js';
import type { OutputView } from './output-view.js';
import { RunReconnector } from './run-reconnector.js';
import {
  isActive,
  isReconnecting,
  newRun,
  type RunEvent,
  type RunFailure,
  type RunState,
  runReducer,
} from './run-state.js';
import {
  concernsSession,
  SESSION_OFF,
  type SessionEvent,
  type SessionState,
  sessionReducer,
} from './session-state.js';
import type { SessionView } from './session-view.js';
import { ShareControl } from './share-control.js';
import { decodeShare, type Shared } from './share-link.js';

export interface PlaygroundParts {
  api: ApiClient;
  socket: GatewaySocket;
  keyDialog: KeyDialog;
  editor: CodeEditor;
  output: OutputView;
  session: SessionView;
  notice: NoticeView;
}

/** How often the page asks again for languages while no runner offers any. */
const LANGUAGES_RETRY_MS = 3000;

export class Playground {
  readonly #parts: PlaygroundParts;
  readonly #picker = new LanguagePicker((lang) => this.#selectLanguage(lang));
  readonly #runButton = byId<HTMLButtonElement>('run');
  readonly #stopButton = byId<HTMLButtonElement>('stop');
  readonly #interactive = byId<HTMLInputElement>('interactive-mode');
  readonly #sessionToggle = byId<HTMLInputElement>('session-mode');
  readonly #stdin = byId<HTMLTextAreaElement>('stdin');
  readonly #share = new ShareControl(() =>
    this.#lang === null ? null : { lang: this.#lang, code: this.#parts.editor.code },
  );
  #lang: string | null = null;
  /** A share link's language and code, until the picker knows the languages. */
  #wanted: Shared | null = null;
  /** The code of each language the user has visited, so switching back keeps their edits. */
  readonly #drafts = new Map<string, string>();
  #run: RunState | null = null;
  /** Gets a run whose socket was lost back to its job (when and whether: run-state.ts). */
  readonly #reconnector: RunReconnector;
  #session: SessionState = SESSION_OFF;
  #ids = 0;
  #retry: ReturnType<typeof setTimeout> | null = null;

  /** `parts` are built by main.ts, which also hands `run` to the editor's Ctrl-Enter. */
  constructor(parts: PlaygroundParts) {
    this.#parts = parts;
    this.#reconnector = new RunReconnector({
      connect: () => this.#connect(),
      send: (frame) => this.#send(frame),
      run: () => this.#run,
      event: (event) => this.#runEvent(event),
    });
    this.#runButton.addEventListener('click', () => void this.run());
    this.#stopButton.addEventListener('click', () => this.stop());
    this.#sessionToggle.addEventListener('change', () => {
      if (this.#sessionToggle.checked) void this.#openSession();
      else this.#closeSession();
    });
    byId('key-button').addEventListener('click', () => void this.#askKey());
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey) && !event.defaultPrevented) {
        event.preventDefault();
        void this.run();
      }
    });
    window.addEventListener('hashchange', () => void this.#restoreShared());
    window.addEventListener('pagehide', () => parts.socket.close());
  }

  async start(): Promise<void> {
    this.#render();
    await this.#restoreShared();
    await this.#loadLanguages();
  }

  // ——— frames and socket ends (GatewaySocket's callbacks) ———

  onFrame(frame: GatewayToClient): void {
    const run = this.#run;
    if (run !== null && frame.id === run.id) {
      this.#runEvent({ type: 'frame', frame });
      // Stop was pressed while the socket was lost: the cancel goes now that the job is followed again.
      if (frame.type === 'resumed' && this.#run?.phase === 'stopping')
        this.#send({ type: 'cancel', id: run.id });
    } else if (frame.type === 'goaway') {
      // The socket closes next: a run to resume waits as long as the gateway asks.
      if (isActive(run)) this.#runEvent({ type: 'frame', frame });
    } else if (concernsSession(this.#session, frame)) {
      this.#sessionEvent({ type: 'frame', frame });
    } else if (frame.type === 'error' && frame.id === null && frame.code !== 'unauthorized') {
      this.#parts.notice.show(`The gateway says: ${frame.message}`);
    }
    // Anything else is about a run or session the page has let go of (a late cancel's not_found).
  }

  onInvalid(problem: string): void {
    this.#parts.notice.show(`The gateway sent ${problem}. Is the page older than the gateway? Reload it.`);
  }

  onSocketEnd(end: SocketEnd): void {
    const failure = failureOf(end);
    if (isActive(this.#run)) this.#runEvent({ type: 'lost', failure, now: Date.now() });
    if (this.#session.phase !== 'off') {
      this.#sessionEvent({
        type: 'close',
        note: 'The connection was lost: the session and its files are gone.',
      });
    }
    if (end.kind === 'unauthorized') {
      void this.#parts.keyDialog.askRefused('to run code');
      return;
    }
    // A run getting back to its job says so quietly in its status line; no alarm unless it gives up.
    if (!isReconnecting(this.#run)) this.#lostNotice(failure.message);
  }

  // ——— runs ———

  async run(): Promise<void> {
    const lang = this.#lang;
    if (lang === null || isActive(this.#run)) return;
    const code = this.#parts.editor.code;
    this.#drafts.set(lang, code);
    const interactive = this.#interactive.checked;
    const session = this.#session.phase === 'off' ? null : this.#session.id;
    const id = this.#nextId('run');
    this.#run = newRun(id, lang, interactive, session);
    this.#render();
    const connected = await this.#connect();
    if (connected !== null) {
      this.#runEvent({ type: 'lost', failure: connected, now: Date.now() });
      return;
    }
    if (this.#run?.id !== id || this.#run.phase !== 'connecting') return; // stopped meanwhile
    const stdin = this.#stdin.value;
    this.#send({
      type: 'execute',
      id,
      lang,
      code,
      ...(stdin === '' ? {} : { stdin }),
      interactive,
      ...(session === null ? {} : { session }),
      // A person types slower than a program reads: an interactive run may take the longest time.
      ...(interactive ? { limits: { wall_time_ms: MAX_LIMITS.wall_time_ms } } : {}),
    });
    this.#runEvent({ type: 'sent' });
  }

  stop(): void {
    const run = this.#run;
    if (run === null || !isActive(run)) return;
    // While reconnecting no socket carries the job: the cancel goes once it is resumed (onFrame).
    if (run.phase !== 'connecting' && run.reconnect === null) this.#send({ type: 'cancel', id: run.id });
    this.#runEvent({ type: 'stop' });
  }

  input(data: string): void {
    const run = this.#run;
    if (run === null) return;
    this.#send({ type: 'stdin', id: run.id, data });
    this.#runEvent({ type: 'input', data });
  }

  eof(): void {
    const run = this.#run;
    if (run === null) return;
    this.#send({ type: 'stdin_eof', id: run.id });
    this.#runEvent({ type: 'eof' });
  }

  #runEvent(event: RunEvent): void {
    if (this.#run === null) return;
    const before = this.#run;
    this.#run = runReducer(before, event);
    this.#reconnector.follow(this.#run);
    if (before.phase !== 'ended' && this.#run.phase === 'ended') this.#runEnded(before);
    this.#render();
  }

  #runEnded(before: RunState): void {
    const run = this.#run;
    const failure = run?.failure;
    if (failure?.code === 'unauthorized') void this.#parts.keyDialog.askRefused('to run code');
    // Gave up getting back to the job: as when a socket is lost with nothing to resume.
    if (before.reconnect !== null && failure?.code === 'connection_lost') this.#lostNotice(failure.message);
    if (run?.session != null && run.session === this.#session.id) this.#listFiles();
    // The input line goes away with the run: give the focus back to the code, not to the page.
    if (document.activeElement?.closest('#input-line')) this.#parts.editor.focus();
  }

  // ——— sessions ———

  async #openSession(): Promise<void> {
    const lang = this.#lang;
    if (lang === null) {
      this.#sessionEvent({ type: 'close', note: 'Choose a language first.' });
      return;
    }
    const id = this.#nextId('session');
    this.#sessionEvent({ type: 'open', id, lang });
    const failure = await this.#connect();
    if (this.#session.id !== id) return; // closed meanwhile
    if (failure !== null) {
      this.#sessionEvent({ type: 'close', note: `No session: ${failure.message}` });
      return;
    }
    this.#send({ type: 'session_open', id, lang });
  }

  #closeSession(note?: string): void {
    const id = this.#session.id;
    if (id !== null && this.#parts.socket.isOpen) this.#send({ type: 'session_close', id });
    this.#sessionEvent(note === undefined ? { type: 'close' } : { type: 'close', note });
  }

  /** Asks the gateway for the session's files (session_files: nothing runs as a job). */
  #listFiles(): void {
    const { id, phase } = this.#session;
    if (phase !== 'open' || id === null) return;
    const listing = this.#nextId('files');
    this.#sessionEvent({ type: 'list', id: listing });
    this.#send({ type: 'session_files', id: listing, session: id });
  }

  #sessionEvent(event: SessionEvent): void {
    this.#session = sessionReducer(this.#session, event);
    this.#render();
  }

  // ——— languages and code ———

  async #loadLanguages(): Promise<void> {
    if (this.#retry !== null) clearTimeout(this.#retry);
    this.#retry = null;
    let options: LanguageOption[];
    try {
      options = languageOptions(await this.#parts.api.languages());
    } catch (err) {
      const error = err instanceof ApiError ? err : new ApiError(0, 'internal', String(err));
      if (error.status === 401) {
        const choice = await this.#parts.keyDialog.askRefused('before it shows its languages');
        if (choice !== 'cancelled') return; // keyChanged loads them again
        this.#parts.notice.show('Without an API key this gateway runs nothing.', {
          label: 'Enter the key',
          run: () => void this.#askKey(),
        });
        return;
      }
      this.#parts.notice.show(`Could not load the languages: ${error.message}.`, {
        label: 'Retry',
        run: () => void this.#loadLanguages(),
      });
      return;
    }
    this.#picker.fill(options);
    if (options.length === 0) {
      this.#parts.notice.show(
        'No runner is connected, so no language can run yet. This page checks again by itself.',
      );
      this.#retry = setTimeout(() => void this.#loadLanguages(), LANGUAGES_RETRY_MS);
    } else {
      this.#parts.notice.clear();
      const wanted = this.#wanted;
      this.#wanted = null;
      const shared = wanted === null ? null : matchLanguage(options, wanted.lang);
      if (wanted !== null && shared === null) this.#notOffered(wanted.lang);
      if (wanted !== null && shared !== null) this.#drafts.set(shared, wanted.code);
      const chosen = pickLanguage(options, [shared, this.#lang]);
      if (chosen !== null) this.#selectLanguage(chosen);
    }
    this.#render();
  }

  #selectLanguage(lang: string): void {
    if (this.#lang !== null) this.#drafts.set(this.#lang, this.#parts.editor.code);
    const changed = lang !== this.#lang;
    this.#lang = lang;
    this.#picker.value = lang;
    this.#parts.editor.setLanguage(lang);
    this.#parts.editor.setCode(this.#drafts.get(lang) ?? exampleFor(lang));
    // A session runs one language: a new language needs a new session.
    if (changed && this.#session.phase !== 'off') {
      this.#closeSession();
      void this.#openSession();
    }
    this.#render();
  }

  async #restoreShared(): Promise<void> {
    const shared = await decodeShare(location.hash);
    if (shared === null) return;
    if (this.#picker.options.length === 0) {
      // Selected once the languages are known (#loadLanguages).
      this.#wanted = shared;
      this.#parts.editor.setCode(shared.code);
      return;
    }
    const lang = matchLanguage(this.#picker.options, shared.lang);
    if (lang === null) {
      this.#notOffered(shared.lang);
    } else if (lang === this.#lang) {
      this.#parts.editor.setCode(shared.code);
    } else {
      this.#selectLanguage(lang); // keeps the current code as that language's draft
      this.#parts.editor.setCode(shared.code);
    }
  }

  #notOffered(lang: string): void {
    this.#parts.notice.show(`The shared link’s language, ${lang}, is not offered by this gateway now.`);
  }

  // ——— the key and the connection ———

  /** The key was saved or forgotten (the key dialog's answer). */
  async keyChanged(): Promise<void> {
    // The socket carries the key it was opened with: the next run opens one with the new key.
    if (this.#parts.socket.isOpen) {
      if (this.#session.phase !== 'off') this.#closeSession('The key changed: the session was closed.');
      this.#parts.socket.close();
    }
    this.#parts.notice.clear();
    await this.#loadLanguages();
  }

  #askKey(): Promise<KeyChoice> {
    return this.#parts.keyDialog.ask('Enter, change or forget the API key this page sends to the gateway.');
  }

  /** Opens the socket if it is not; the failure, or null once it is open. */
  async #connect(): Promise<RunFailure | null> {
    try {
      await this.#parts.socket.connect();
      return null;
    } catch (err) {
      const failure = failureOf(err as SocketEnd);
      if (failure.code === 'unauthorized') void this.#parts.keyDialog.askRefused('to run code');
      return failure;
    }
  }

  #lostNotice(message: string): void {
    this.#parts.notice.show(`The connection to the gateway was lost (${message}).`, {
      label: 'Reconnect',
      run: () => void this.#reconnect(),
    });
  }

  async #reconnect(): Promise<void> {
    const failure = await this.#connect();
    if (failure === null) this.#parts.notice.clear();
    else
      this.#parts.notice.show(`Could not reconnect: ${failure.message}.`, {
        label: 'Reconnect',
        run: () => void this.#reconnect(),
      });
  }

  #send(frame: ClientFrame): void {
    try {
      this.#parts.socket.send(frame);
    } catch {
      // The socket dropped in between: its end is being reported (onSocketEnd).
    }
  }

  #nextId(kind: string): string {
    this.#ids += 1;
    return `${kind}-${this.#ids}`;
  }

  #render(): void {
    const active = isActive(this.#run);
    this.#runButton.disabled = this.#lang === null || active;
    this.#stopButton.disabled = !active;
    this.#picker.locked = active;
    this.#interactive.disabled = active;
    this.#sessionToggle.disabled = active || this.#lang === null;
    this.#share.enabled = this.#lang !== null;
    this.#parts.output.render(this.#run);
    this.#parts.session.render(this.#session);
  }
}

function failureOf(end: SocketEnd): RunFailure {
  if (end.kind === 'unauthorized')
    return { code: 'unauthorized', message: end.reason || 'A valid API key is required' };
  const why = end.reason ? `: ${end.reason}` : '';
  return { code: 'connection_lost', message: `the socket closed with code ${end.code}${why}` };
}
