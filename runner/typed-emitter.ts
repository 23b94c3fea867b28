// A small typed event emitter: one payload per event, its type looked up in an event map, so a
// listener cannot subscribe to a misspelled event or read the wrong payload. It wraps (not
// extends) EventEmitter: callers see on/once/off/next; emitting is the subclass's business.
import { EventEmitter } from 'node:events';

export type Listener<T> = (payload: T) => void;

export class TypedEmitter<Events extends object> {
  readonly #emitter = new EventEmitter();
  readonly #onListenerError: (err: unknown, event: string) => void;

  /**
   * `onListenerError` hears of a listener that threw (default: rethrown on a later tick, as an
   * uncaught exception: a bug in the embedder, not something to hide).
   */
  constructor(onListenerError?: (err: unknown, event: string) => void) {
    this.#onListenerError =
      onListenerError ??
      ((err) =>
        queueMicrotask(() => {
          throw err;
        }));
    // A desktop shell, a CLI and a test may all listen; the default cap of 10 would only warn.
    this.#emitter.setMaxListeners(0);
  }

  /** Calls `listener` on every `event`; returns a function that unsubscribes it. */
  on<K extends keyof Events & string>(event: K, listener: Listener<Events[K]>): () => void {
    this.#emitter.on(event, listener);
    return () => this.off(event, listener);
  }

  /** Calls `listener` on the next `event` only; returns a function that unsubscribes it. */
  once<K extends keyof Events & string>(event: K, listener: Listener<Events[K]>): () => void {
    this.#emitter.once(event, listener);
    return () => this.off(event, listener);
  }

  off<K extends keyof Events & string>(event: K, listener: Listener<Events[K]>): void {
    this.#emitter.off(event, listener);
  }

  /** The next `event`'s payload. */
  next<K extends keyof Events & string>(event: K): Promise<Events[K]> {
    return new Promise((resolve) => this.once(event, resolve));
  }

  /**
   * Listeners run synchronously, in order. One that throws is the embedder's bug: it must not
   * break the owner's bookkeeping half-way, nor keep the other listeners from hearing.
   */
  protected emit<K extends keyof Events & string>(event: K, payload: Events[K]): void {
    // rawListeners: calling a once() wrapper also removes it.
    for (const listener of this.#emitter.rawListeners(event) as Listener<Events[K]>[]) {
      try {
        listener(payload);
      } catch (err) {
        this.#onListenerError(err, event);
      }
    }
  }
}
