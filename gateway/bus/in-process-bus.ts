// The bus for one gateway process: subscriptions in a map, control to the local handler, and
// wake-ups coalesced into one call per event-loop turn (a burst of submissions costs one
// scheduling pass, not one each).
import type { Bus, ControlHandler, ControlMessage, JobMessage } from './bus.js';

export class InProcessBus implements Bus {
  readonly #subscribers = new Map<string, Set<(message: JobMessage) => void>>();
  readonly #controlHandlers = new Set<ControlHandler>();
  readonly #wakeHandlers = new Set<() => void>();
  readonly #nudgeHandlers = new Map<string, Set<() => void>>();
  #wakePending = false;
  #closed = false;

  publish(jobId: string, message: JobMessage): void {
    const set = this.#subscribers.get(jobId);
    if (set === undefined) return;
    for (const handler of [...set]) handler(message);
  }

  subscribe(jobId: string, handler: (message: JobMessage) => void): () => void {
    return addHandler(this.#subscribers, jobId, handler);
  }

  /** Async only to fit the interface: the handlers run before it returns. */
  async control(jobId: string, message: ControlMessage): Promise<boolean> {
    for (const handler of this.#controlHandlers) if (handler(jobId, message)) return true;
    return false;
  }

  onControl(handler: ControlHandler): () => void {
    this.#controlHandlers.add(handler);
    return () => this.#controlHandlers.delete(handler);
  }

  wake(): void {
    if (this.#wakePending || this.#closed) return;
    this.#wakePending = true;
    queueMicrotask(() => {
      this.#wakePending = false;
      if (this.#closed) return;
      for (const handler of this.#wakeHandlers) handler();
    });
  }

  onWake(handler: () => void): () => void {
    this.#wakeHandlers.add(handler);
    return () => this.#wakeHandlers.delete(handler);
  }

  nudge(gatewayId: string): void {
    const handlers = this.#nudgeHandlers.get(gatewayId);
    if (handlers === undefined || this.#closed) return;
    queueMicrotask(() => {
      for (const handler of [...handlers]) handler();
    });
  }

  onNudge(gatewayId: string, handler: () => void): () => void {
    return addHandler(this.#nudgeHandlers, gatewayId, handler);
  }

  /** How many jobs have subscribers (tests check nothing leaks). */
  get subscribedJobs(): number {
    return this.#subscribers.size;
  }

  /** One process: a subscription is in effect the moment it is made. */
  async flush(): Promise<void> {}

  async close(): Promise<void> {
    this.#closed = true;
    this.#subscribers.clear();
    this.#controlHandlers.clear();
    this.#wakeHandlers.clear();
    this.#nudgeHandlers.clear();
  }
}

/** Adds a handler to the set of `key`; returns the function that removes it (and an empty set). */
export function addHandler<T>(handlers: Map<string, Set<T>>, key: string, handler: T): () => void {
  let set = handlers.get(key);
  if (set === undefined) {
    set = new Set();
    handlers.set(key, set);
  }
  set.add(handler);
  return () => {
    set.delete(handler);
    if (set.size === 0 && handlers.get(key) === set) handlers.delete(key);
  };
}
