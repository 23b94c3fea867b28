// The operator's routes about runners: GET /runners (every connected runner with its tier, state,
// slots, jobs done, reliability and last heartbeat: runner-views.ts) and POST/DELETE
// /runners/{id}/quarantine (a runner identity that lies is offered nothing until released). Admin
// keys only (admin-auth.ts).
import { CodeexecError, type RunnerView } from '../../shared/index.js';
import type { ReliabilityBook } from '../runners/reliability-book.js';
import type { RunnerRegistry } from '../runners/runner-registry.js';
import { reliabilityView, runnerViews } from '../runners/runner-views.js';
import type { AdminAuth } from './admin-auth.js';
import { json, type Route } from './router.js';

export interface RunnerRoutesDeps {
  registry: RunnerRegistry;
  reliability: ReliabilityBook;
  admin: AdminAuth;
}

export function runnerRoutes({ registry, reliability, admin }: RunnerRoutesDeps): Route[] {
  const reliabilityOf = (identity: string) => reliabilityView(reliability, identity);
  const list = (): RunnerView[] => runnerViews(registry, reliability);

  /** A path's id: a connected runner's name, or an identity (`donor:…`, or a runner's name). */
  const identityOf = (id: string): string => {
    const runner = registry.get(id);
    if (runner) return runner.identity || runner.name;
    if (id.startsWith('donor:') || reliability.get(id)) return id;
    throw new CodeexecError('not_found', `No runner or runner identity ${id}`);
  };

  const quarantine =
    (on: boolean): Route['handle'] =>
    async ({ req, params }) => {
      admin.check(req);
      const identity = identityOf(params.id!);
      reliability.quarantine(identity, on);
      return json(200, { identity, reliability: reliabilityOf(identity) });
    };

  return [
    {
      method: 'GET',
      path: '/runners',
      open: true,
      handle: async ({ req }) => {
        admin.check(req);
        return json(200, { runners: list() });
      },
    },
    { method: 'POST', path: '/runners/:id/quarantine', open: true, handle: quarantine(true) },
    { method: 'DELETE', path: '/runners/:id/quarantine', open: true, handle: quarantine(false) },
  ];
}
