// The operator's runner routes over fakes: GET /runners lists the fleet's runners, or this
// gateway's only (partial, logged) when the fleet cannot be read; quarantine finds a runner
// connected to another gateway of the fleet by its name.
import { describe, expect, it, vi } from 'vitest';
import type { RunnerView } from '../../shared/index.js';
import type { FleetMember } from '../fleet/fleet.js';
import type { RunnerConnection } from '../runners/runner-connection.js';
import type { HttpRequest } from '../transport/transport.js';
import type { RouteContext } from './router.js';
import { runnerRoutes } from './runner-routes.js';

const remote = { name: 'on-b', identity: 'donor:abc' } as RunnerView;
const memberB: FleetMember = {
  id: 'gw-b',
  url: 'http://b',
  runners: [remote],
  expires_at: '2026-05-04T12:00:10.000Z',
};

function setup(members: () => Promise<FleetMember[]>) {
  const warn = vi.fn();
  const quarantine = vi.fn();
  const routes = runnerRoutes({
    registry: { all: () => ([] as RunnerConnection[]).values(), get: () => undefined },
    reliability: { get: () => undefined, quarantine },
    admin: { check: () => {} },
    fleet: { id: 'gw-a', members },
    url: () => 'http://a',
    log: { warn },
  });
  const call = async (method: string, path: string, params: Record<string, string> = {}) => {
    const route = routes.find((r) => r.method === method && r.path === path)!;
    const ctx = { req: {} as HttpRequest, params, signal: new AbortController().signal, client: '' };
    const response = await route.handle(ctx as RouteContext);
    return { status: response.status, body: JSON.parse(String(response.body)) };
  };
  return { call, warn, quarantine };
}

describe('runner routes over the fleet', () => {
  it("GET /runners lists the other gateways' runners with their gateway", async () => {
    const { call, warn } = setup(async () => [memberB]);
    const { status, body } = await call('GET', '/runners');
    expect(status).toBe(200);
    expect(body.runners).toEqual([{ ...remote, gateway: 'gw-b' }]);
    expect(body.gateways.map((g: { id: string; self: boolean }) => [g.id, g.self])).toEqual([
      ['gw-a', true],
      ['gw-b', false],
    ]);
    expect(body.partial).toBe(false);
    expect(warn).not.toHaveBeenCalled();
  });

  it("GET /runners answers this gateway's runners only, partial, when the fleet cannot be read", async () => {
    const { call, warn } = setup(async () => {
      throw new Error('database away');
    });
    const { status, body } = await call('GET', '/runners');
    expect(status).toBe(200);
    expect(body).toEqual({
      runners: [],
      gateways: [{ id: 'gw-a', url: 'http://a', runners: 0, expires_at: null, self: true }],
      partial: true,
    });
    expect(warn).toHaveBeenCalledWith({ err: expect.any(Error) }, expect.stringContaining('partial'));
  });

  it("quarantine takes the name of a runner connected to another gateway: its identity's", async () => {
    const { call, quarantine } = setup(async () => [memberB]);
    const { status, body } = await call('POST', '/runners/:id/quarantine', { id: 'on-b' });
    expect(status).toBe(200);
    expect(body.identity).toBe('donor:abc');
    expect(quarantine).toHaveBeenCalledWith('donor:abc', true);
    await expect(call('DELETE', '/runners/:id/quarantine', { id: 'nobody' })).rejects.toMatchObject({
      code: 'not_found',
    });
  });
});
