// The typed emitter: payloads reach listeners in order, once() and the returned unsubscribe work,
// and a listener that throws does not keep the others (or the emitter's owner) from going on.
import { describe, expect, it } from 'vitest';
import { TypedEmitter } from './typed-emitter.js';

interface Events {
  tick: { n: number };
  done: undefined;
}

class Clock extends TypedEmitter<Events> {
  tick(n: number): void {
    this.emit('tick', { n });
  }

  done(): void {
    this.emit('done', undefined);
  }
}

describe('TypedEmitter', () => {
  it('delivers payloads to on() listeners until unsubscribed, and to once() listeners once', () => {
    const clock = new Clock();
    const all: number[] = [];
    const first: number[] = [];
    const off = clock.on('tick', ({ n }) => all.push(n));
    clock.once('tick', ({ n }) => first.push(n));
    clock.tick(1);
    clock.tick(2);
    off();
    clock.tick(3);
    expect(all).toEqual([1, 2]);
    expect(first).toEqual([1]);
  });

  it('resolves next() with the next payload', async () => {
    const clock = new Clock();
    const next = clock.next('tick');
    clock.tick(7);
    expect(await next).toEqual({ n: 7 });
  });

  it('keeps calling listeners after one throws, and reports it', () => {
    const errors: [unknown, string][] = [];
    const clock = new Clock((err, event) => errors.push([err, event]));
    const heard: string[] = [];
    clock.on('done', () => {
      throw new Error('a listener bug');
    });
    clock.on('done', () => heard.push('second'));
    expect(() => clock.done()).not.toThrow();
    expect(heard).toEqual(['second']);
    expect(errors).toEqual([[new Error('a listener bug'), 'done']]);
  });
});
