import { constants } from 'node:os';

const names = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) {
  if (!names.has(value)) names.set(value, name);
}

/** 'ENOMEM' for 12 or -12; null for 0. */
export function errnoName(n: number): string | null {
  if (n === 0) return null;
  return names.get(Math.abs(n)) ?? `E${Math.abs(n)}`;
}
