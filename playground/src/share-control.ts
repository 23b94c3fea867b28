/// <reference lib="dom" />
// The Share button: puts the language and the code in the page's URL (share-link.ts) and copies
// the link; where the clipboard is refused (an insecure origin, no permission), shows the link
// selected, to copy by hand.
import { byId, h } from '../../shared/dom.js';
import { encodeShare, type Shared } from './share-link.js';

export class ShareControl {
  readonly #button = byId<HTMLButtonElement>('share');
  readonly #status = byId('share-status');

  /** `current`: what to share now, or null when there is nothing (no language yet). */
  constructor(current: () => Shared | null) {
    this.#button.addEventListener('click', () => {
      const shared = current();
      if (shared !== null) void this.#share(shared);
    });
  }

  set enabled(enabled: boolean) {
    this.#button.disabled = !enabled;
  }

  async #share(shared: Shared): Promise<void> {
    // replaceState: no hashchange, so the page does not restore what it already shows.
    history.replaceState(null, '', await encodeShare(shared));
    const link = location.href;
    try {
      await navigator.clipboard.writeText(link);
      this.#status.replaceChildren('Link copied: it opens this language and code.');
    } catch {
      const field = h('input', {
        type: 'text',
        class: 'share-link',
        readonly: true,
        value: link,
        'aria-label': 'Share link',
      });
      this.#status.replaceChildren(h('span', {}, 'Copy this link: '), field);
      field.select();
    }
  }
}
