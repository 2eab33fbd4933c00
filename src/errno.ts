// Errno names, from the one source the native errors use too (glibc's strerrorname_np, in
// native/errors.cc): the kernel's names, so a step's errno and an error's code agree (EOPNOTSUPP,
// not Node's ENOTSUP, for 95; EAGAIN, not EWOULDBLOCK, for 11).
import { loadBinding } from './native.js';

/** 'ENOMEM' for 12 or -12; null for 0. */
export function errnoName(n: number): string | null {
  if (n === 0) return null;
  return loadBinding().errnoName(n) ?? `E${Math.abs(n)}`;
}
