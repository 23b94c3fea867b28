/// <reference lib="dom" />
// The session panel, shown in session mode: the session's state and the files its workspace keeps
// between runs, as listed after each run.
import { byId, h } from '../../shared/dom.js';
import { formatSize } from './file-size.js';
import type { SessionState } from './session-state.js';

export class SessionView {
  readonly #panel = byId('session-panel');
  readonly #state = byId('session-state');
  readonly #files = byId('file-list');
  readonly #note = byId('session-note');
  readonly #toggle = byId<HTMLInputElement>('session-mode');

  render(session: SessionState): void {
    this.#toggle.checked = session.phase !== 'off';
    this.#panel.hidden = session.phase === 'off' && session.note === null;
    this.#state.textContent = stateText(session);
    this.#note.hidden = session.note === null;
    this.#note.textContent = session.note ?? '';
    const files = session.files ?? [];
    this.#files.hidden = session.phase !== 'open';
    this.#files.setAttribute('aria-busy', String(session.listing !== null));
    const more = session.truncated ? [h('li', { class: 'empty' }, 'More files are not listed.')] : [];
    this.#files.replaceChildren(
      ...(files.length === 0
        ? [h('li', { class: 'empty' }, session.listing ? 'Listing files…' : 'No files yet.')]
        : files.map((file) =>
            h(
              'li',
              {},
              h('span', { class: 'path' }, file.path),
              h('span', { class: 'size' }, formatSize(file.size)),
            ),
          )),
      ...more,
    );
  }
}

function stateText(session: SessionState): string {
  switch (session.phase) {
    case 'off':
      return 'Session mode is off.';
    case 'opening':
      return `Opening a ${session.lang} session…`;
    case 'open': {
      const listing = session.listing ? ' Listing files…' : '';
      return `Open: ${session.lang} on ${session.runner}. Files stay between runs.${listing}`;
    }
    default: {
      const never: never = session.phase;
      throw new Error(`unknown phase ${never}`);
    }
  }
}
