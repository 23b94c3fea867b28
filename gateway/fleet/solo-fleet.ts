// A fleet of one: a gateway on its own files (lowdb) shares its store with nobody, so it has
// nobody's jobs to claim and nobody to show; a job it does not know is no job.
import type { JobRecord } from '../../shared/index.js';
import {
  type Fleet,
  type FleetMember,
  type HeldClaim,
  type MemberInfo,
  NO_USAGE,
  type UsageElsewhere,
} from './fleet.js';

export class SoloFleet implements Fleet {
  readonly id: string;
  readonly shared = false;
  #info: MemberInfo = { url: '', runners: [] };
  #expiresAt = 0;

  constructor(id: string) {
    this.id = id;
  }

  async beat(ttlMs: number, info: MemberInfo): Promise<void> {
    this.#info = info;
    this.#expiresAt = Date.now() + ttlMs;
  }

  async leave(): Promise<void> {
    this.#expiresAt = 0;
  }

  async claimOrphans(): Promise<[]> {
    return [];
  }

  async claimHeld(): Promise<HeldClaim> {
    return { kind: 'ended' };
  }

  async handOff(): Promise<string[]> {
    return [];
  }

  async usageElsewhere(): Promise<UsageElsewhere> {
    return NO_USAGE;
  }

  async ownedElsewhere(): Promise<string[]> {
    return [];
  }

  async takeHanded(): Promise<JobRecord[]> {
    return [];
  }

  async members(): Promise<FleetMember[]> {
    if (this.#expiresAt <= Date.now()) return [];
    return [{ id: this.id, ...this.#info, expires_at: new Date(this.#expiresAt).toISOString() }];
  }
}
