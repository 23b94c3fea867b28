// fleetRunners: GET /runners's answer from this gateway's live runners and the fleet's members.
import { describe, expect, it } from 'vitest';
import type { RunnerView } from '../../shared/index.js';
import type { FleetMember } from './fleet.js';
import { runnerView } from './fleet-fixtures.js';
import { fleetRunners } from './fleet-runners.js';

const view = (name: string, last_seen_at = '2026-05-04T12:00:00.000Z'): RunnerView =>
  runnerView(name, { last_seen_at });

const member = (id: string, runners: RunnerView[], expires_at = '2026-05-04T12:00:10.000Z'): FleetMember => ({
  id,
  url: `http://${id}:8080`,
  runners,
  expires_at,
});

const self = (runners: RunnerView[]) => ({ id: 'gw-a', url: 'http://gw-a:8080', runners });

describe('fleetRunners', () => {
  it("lists this gateway's live runners, then the other gateways' as of their beats, each with its gateway", () => {
    const answer = fleetRunners(self([view('a2'), view('a1')]), [
      // This gateway's own beat is older than its registry: the live views win.
      member('gw-a', [view('a-gone')]),
      member('gw-c', [view('c1')], '2026-05-04T12:00:09.000Z'),
      member('gw-b', [view('b2'), view('b1')]),
    ]);
    expect(answer.runners.map((r) => [r.name, r.gateway])).toEqual([
      ['a1', 'gw-a'],
      ['a2', 'gw-a'],
      ['c1', 'gw-c'],
      ['b1', 'gw-b'],
      ['b2', 'gw-b'],
    ]);
    expect(answer.gateways).toEqual([
      { id: 'gw-a', url: 'http://gw-a:8080', runners: 2, expires_at: '2026-05-04T12:00:10.000Z', self: true },
      {
        id: 'gw-c',
        url: 'http://gw-c:8080',
        runners: 1,
        expires_at: '2026-05-04T12:00:09.000Z',
        self: false,
      },
      {
        id: 'gw-b',
        url: 'http://gw-b:8080',
        runners: 2,
        expires_at: '2026-05-04T12:00:10.000Z',
        self: false,
      },
    ]);
    expect(answer.partial).toBe(false);
    // The views it was given are not changed.
    expect(answer.runners[0]).not.toBe(view('a1'));
  });

  it('shows a runner that moved once: as connected here, else as last seen', () => {
    const answer = fleetRunners(self([view('moved')]), [
      member('gw-b', [view('moved'), view('twice', '2026-05-04T12:00:01.000Z')]),
      member('gw-c', [view('twice', '2026-05-04T12:00:05.000Z')]),
    ]);
    expect(answer.runners.map((r) => [r.name, r.gateway])).toEqual([
      ['moved', 'gw-a'],
      ['twice', 'gw-c'],
    ]);
    expect(answer.gateways.map((g) => [g.id, g.runners])).toEqual([
      ['gw-a', 1],
      ['gw-b', 0],
      ['gw-c', 1],
    ]);
  });

  it('lists this gateway without a lease when the fleet does not (it could not renew it)', () => {
    const answer = fleetRunners(self([view('a1')]), [member('gw-b', [])]);
    expect(answer.gateways[0]).toEqual({
      id: 'gw-a',
      url: 'http://gw-a:8080',
      runners: 1,
      expires_at: null,
      self: true,
    });
    expect(answer.partial).toBe(false);
  });

  it("answers with this gateway's runners only, partial, when the fleet could not be read", () => {
    const answer = fleetRunners(self([view('a1')]), null);
    expect(answer).toEqual({
      runners: [{ ...view('a1'), gateway: 'gw-a' }],
      gateways: [{ id: 'gw-a', url: 'http://gw-a:8080', runners: 1, expires_at: null, self: true }],
      partial: true,
    });
  });

  it('a fleet of one with no runners', () => {
    expect(fleetRunners(self([]), [member('gw-a', [])])).toEqual({
      runners: [],
      gateways: [
        {
          id: 'gw-a',
          url: 'http://gw-a:8080',
          runners: 0,
          expires_at: '2026-05-04T12:00:10.000Z',
          self: true,
        },
      ],
      partial: false,
    });
  });
});
