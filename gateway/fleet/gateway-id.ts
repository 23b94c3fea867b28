// A gateway's id in its fleet (CODEEXEC_GATEWAY_ID): what owns jobs in a shared store and names
// the gateway in logs and in GET /runners. Random per process unless the operator fixes it.
import { randomBytes } from 'node:crypto';

const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

/** The id as given, or an error saying what an id may hold. */
export function parseGatewayId(value: string): string {
  const id = value.trim();
  if (!ID.test(id)) {
    throw new Error(
      `CODEEXEC_GATEWAY_ID must be 1 to 64 letters, digits, '.', '_', ':' or '-' (starting with a letter or digit), got "${value}"`,
    );
  }
  return id;
}

/** A new random id: `gw-` and 12 hex digits. */
export function newGatewayId(): string {
  return `gw-${randomBytes(6).toString('hex')}`;
}
