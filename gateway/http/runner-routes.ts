// The operator's routes about runners: GET /runners (the runners of every living gateway of the
// fleet, each with its gateway, tier, state, slots, jobs done, reliability and last heartbeat:
// runner-views.ts, fleet/fleet-runners.ts) and POST/DELETE /runners/{id}/quarantine (a runner
// identity that lies is offered nothing until released, by every gateway sharing the reliability
// records). Admin keys only (admin-auth.ts).
import { CodeexecError, type Logger } from '../../shared/index.js';
import type { Fleet, FleetMember } from '../fleet/fleet.js';
import { fleetRunners } from '../fleet/fleet-runners.js';
import type { ReliabilityBook } from '../runners/reliability-book.js';
import type { RunnerRegistry } from '../runners/runner-registry.js';
import { reliabilityView, runnerViews } from '../runners/runner-views.js';
import type { AdminAuth } from './admin-auth.js';
import { json, type Route } from './router.js';

export interface RunnerRoutesDeps {
  registry: Pick<RunnerRegistry, 'all' | 'get'>;
  reliability: Pick<ReliabilityBook, 'get' | 'quarantine'>;
  admin: Pick<AdminAuth, 'check'>;
  /** The gateways sharing this one's store: their runners, as of their last beat. */
  fleet: Pick<Fleet, 'id' | 'members'>;
  /** Where this gateway listens (known once it listens). */
  url: () => string;
  log: Pick<Logger, 'warn'>;
}

export function runnerRoutes({ registry, reliability, admin, fleet, url, log }: RunnerRoutesDeps): Route[] {
  const reliabilityOf = (identity: string) => reliabilityView(reliability, identity);

  /** The fleet's members, or null (logged, with what it means) when its database is away. */
  const members = async (meaning: string): Promise<FleetMember[] | null> => {
    try {
      return await fleet.members();
    } catch (err) {
      log.warn({ err }, `could not read the fleet: ${meaning}`);
      return null;
    }
  };

  /**
   * A path's id: a runner's name (connected here, or to another gateway of the fleet), or an
   * identity (`donor:…`, or a runner's name).
   */
  const identityOf = async (id: string): Promise<string> => {
    const runner = registry.get(id);
    if (runner) return runner.identity || runner.name;
    if (id.startsWith('donor:') || reliability.get(id)) return id;
    const elsewhere = (await members(`${id} is looked for among this gateway’s runners only`))
      ?.filter((member) => member.id !== fleet.id)
      .flatMap((member) => member.runners)
      .find((view) => view.name === id);
    if (elsewhere) return elsewhere.identity;
    throw new CodeexecError('not_found', `No runner or runner identity ${id}`);
  };

  const quarantine =
    (on: boolean): Route['handle'] =>
    async ({ req, params }) => {
      admin.check(req);
      const identity = await identityOf(params.id!);
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
        const fleetNow = await members('GET /runners lists this gateway’s runners only (partial)');
        const self = { id: fleet.id, url: url(), runners: runnerViews(registry, reliability) };
        return json(200, fleetRunners(self, fleetNow));
      },
    },
    { method: 'POST', path: '/runners/:id/quarantine', open: true, handle: quarantine(true) },
    { method: 'DELETE', path: '/runners/:id/quarantine', open: true, handle: quarantine(false) },
  ];
}
