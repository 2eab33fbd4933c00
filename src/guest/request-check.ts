// A request line from the host, read without zod: the guest agent loads none (under TCG every
// module it loads costs its boot). The host checks each request against protocol.ts's schema
// before it sends it (channel.ts); the agent checks what it needs to dispatch one: a JSON
// object, a whole-number id and a request type it knows.
import type { Request } from '../protocol.js';

/** Every request type: the Record makes the compiler list each of protocol.ts's. */
const TYPES: Record<Request['type'], true> = {
  command: true,
  commandTrace: true,
  commandSweep: true,
  functionTrace: true,
  functionSweep: true,
  sweep: true,
  sweeps: true,
  stress: true,
  faults: true,
  kmemleak: true,
  modules: true,
  harnesses: true,
  bench: true,
  shell: true,
  shutdown: true,
};

const WHAT = 'request from host';

export function parseRequest(line: string): Request {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    throw new Error(`${WHAT}: not JSON: ${line.slice(0, 200)}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${WHAT}: expected a JSON object: ${line.slice(0, 200)}`);
  const { id, type } = json as { id?: unknown; type?: unknown };
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) throw new Error(`${WHAT}: id: expected a whole number >= 0, got ${JSON.stringify(id) ?? 'none'}: ${line.slice(0, 200)}`);
  if (typeof type !== 'string' || !Object.hasOwn(TYPES, type)) throw new Error(`${WHAT}: type: expected one of ${Object.keys(TYPES).join(', ')}, got ${JSON.stringify(type) ?? 'none'}: ${line.slice(0, 200)}`);
  return json as Request;
}
