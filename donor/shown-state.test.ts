// The state a donor shows: the decision as the runner carries it out, and the donor's own life.
import { describe, expect, it } from 'vitest';
import type { PolicyDecision } from './donor-policy.js';
import { type ShownInputs, shownState } from './shown-state.js';

const caps = { slots: 1, cpus: 1, memory_mb: 512, languages: null };
const decision = (state: PolicyDecision['state'], reason: PolicyDecision['reason']): PolicyDecision => ({
  state,
  reason,
  text: `text of ${reason}`,
  caps,
});
const base: ShownInputs = { stopped: false, stopping: false, decision: null, starting: null, running: 0 };

describe('shownState', () => {
  it('is starting before the first decision, and while the runner starts to donate', () => {
    expect(shownState(base)).toMatchObject({ state: 'starting', reason: 'starting' });
    const starting = { ...base, decision: decision('donating', 'donating'), starting: 'waiting for Docker' };
    expect(shownState(starting)).toEqual({
      state: 'starting',
      reason: 'starting',
      reason_text: 'Starting: waiting for Docker',
    });
  });

  it('shows a pause as a pause even while the runner starts', () => {
    const paused = {
      ...base,
      decision: decision('paused', 'paused_by_owner'),
      starting: 'waiting for Docker',
    };
    expect(shownState(paused)).toEqual({
      state: 'paused',
      reason: 'paused_by_owner',
      reason_text: 'text of paused_by_owner',
    });
  });

  it('shows finishing with nothing left to run as paused, for the same reason', () => {
    const finishing = { ...base, decision: decision('finishing', 'outside_schedule') };
    expect(shownState({ ...finishing, running: 2 })).toMatchObject({
      state: 'finishing',
      reason: 'outside_schedule',
    });
    expect(shownState(finishing)).toMatchObject({ state: 'paused', reason: 'outside_schedule' });
  });

  it('says stopping, then stopped, whatever the decision', () => {
    const donating = { ...base, decision: decision('donating', 'donating') };
    expect(shownState({ ...donating, stopping: true })).toMatchObject({
      state: 'finishing',
      reason: 'stopped',
    });
    expect(shownState({ ...donating, stopping: true, stopped: true })).toMatchObject({ state: 'stopped' });
  });
});
