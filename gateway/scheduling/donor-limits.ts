// What a job may ask of a donor's machine. Donors get tighter limits than the operator's runners
// (CODEEXEC_DONOR_MAX_*): a job whose run stage asks for more (or whose compile stage explicitly
// does) runs only on trusted runners — it is never cut short on a donor, where its result would
// differ from a trusted runner's. Pure.
import { DEFAULT_LIMITS, type LimitsInput } from '../../shared/index.js';

export interface DonorMax {
  wall_time_ms: number;
  cpu_time_ms: number;
  memory_bytes: number;
  output_bytes: number;
}

export const DEFAULT_DONOR_MAX: DonorMax = {
  wall_time_ms: DEFAULT_LIMITS.wall_time_ms,
  cpu_time_ms: DEFAULT_LIMITS.cpu_time_ms,
  memory_bytes: DEFAULT_LIMITS.memory_bytes,
  output_bytes: DEFAULT_LIMITS.output_bytes,
};

const KEYS = ['wall_time_ms', 'cpu_time_ms', 'memory_bytes', 'output_bytes'] as const;

/** Whether a job with these limits may run on donors. */
export function fitsDonors(
  limits: LimitsInput | null,
  compileLimits: LimitsInput | null,
  max: DonorMax,
): boolean {
  for (const key of KEYS) {
    if ((limits?.[key] ?? DEFAULT_LIMITS[key]) > max[key]) return false;
    const compile = compileLimits?.[key];
    if (compile !== undefined && compile > max[key]) return false;
  }
  return true;
}

/** Where a job may run: its own choice, narrowed to `trusted` when it asks more than donors give. */
export function effectiveTrust(
  job: { trust: 'trusted' | 'any'; limits: LimitsInput | null; compile_limits: LimitsInput | null },
  max: DonorMax,
): 'trusted' | 'any' {
  if (job.trust === 'trusted') return 'trusted';
  return fitsDonors(job.limits, job.compile_limits, max) ? 'any' : 'trusted';
}
