// Scratch files that must not outlive this process: removed when it exits, also on SIGINT,
// SIGTERM and SIGHUP (the default action of those would end Node without its 'exit' event).
// A signal that comes while a synchronous child runs (the harness compiler) is handled when
// the child is done, so its output is removed too. SIGKILL leaves them: the next build removes
// those of processes that are gone (harness/compile.ts removeStaleBuilds).
import { rmSync } from 'node:fs';

const paths = new Set<string>();
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', () => {
    for (const p of paths) rmSync(p, { recursive: true, force: true });
  });
  for (const [sig, n] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]] as const) {
    process.once(sig, () => process.exit(128 + n));
  }
}

/** Registers path for removal on exit; the function returned unregisters it (the caller has
 * removed or kept it). */
export function removeOnExit(path: string): () => void {
  install();
  paths.add(path);
  return () => paths.delete(path);
}

/** Runs fn with path registered for removal on exit, and unregisters it after (fn may rename it). */
export function withScratchPath<T>(path: string, fn: () => T): T {
  const forget = removeOnExit(path);
  try {
    return fn();
  } finally {
    forget();
  }
}
