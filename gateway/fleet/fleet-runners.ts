// What GET /runners answers over the fleet (fleet.ts): this gateway's runners as they are now, and
// those of the other living gateways as of their last beat, each marked with the id of the gateway
// it is connected to; and the living gateways with their runner counts. Pure, for the route.
import type { FleetGateway, RunnersResponse, RunnerView } from '../../shared/index.js';
import type { FleetMember } from './fleet.js';

/** The answering gateway, as it is now. */
export interface SelfView {
  id: string;
  url: string;
  /** Its connected runners (runner-views.ts). */
  runners: readonly RunnerView[];
}

/**
 * The answer, from this gateway and the fleet's members (this one included or not), or from this
 * gateway alone when `members` is null (the fleet could not be read: `partial`). A runner listed
 * twice (it moved to another gateway, and the one it left has not beaten since) is shown once: as
 * connected here if it is, else as of the later `last_seen_at`. Runners come by gateway, this one
 * first, then in the members' order (when they started), each gateway's by name.
 */
export function fleetRunners(self: SelfView, members: readonly FleetMember[] | null): RunnersResponse {
  const others = (members ?? []).filter((member) => member.id !== self.id);
  const chosen = new Map<string, RunnerView>();
  for (const view of self.runners) chosen.set(view.name, { ...view, gateway: self.id });
  for (const member of others) {
    for (const view of member.runners) {
      const known = chosen.get(view.name);
      if (known?.gateway === self.id) continue;
      if (known && Date.parse(known.last_seen_at) >= Date.parse(view.last_seen_at)) continue;
      chosen.set(view.name, { ...view, gateway: member.id });
    }
  }
  const order = [self.id, ...others.map((member) => member.id)];
  const byGateway = new Map<string, RunnerView[]>(order.map((id) => [id, []]));
  for (const view of chosen.values()) byGateway.get(view.gateway!)!.push(view);
  for (const views of byGateway.values()) views.sort((a, b) => a.name.localeCompare(b.name));
  const own = members?.find((member) => member.id === self.id);
  const gateways: FleetGateway[] = [
    {
      id: self.id,
      url: self.url,
      runners: byGateway.get(self.id)!.length,
      expires_at: own?.expires_at ?? null,
      self: true,
    },
    ...others.map((member) => ({
      id: member.id,
      url: member.url,
      runners: byGateway.get(member.id)!.length,
      expires_at: member.expires_at,
      self: false,
    })),
  ];
  return { runners: order.flatMap((id) => byGateway.get(id)!), gateways, partial: members === null };
}
