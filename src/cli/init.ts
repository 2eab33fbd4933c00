// `kfault init [--json]`: a starting kfault.config.ts (or kfault.config.json with "$schema").
import { existsSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { SCHEMA_REF } from '../schema.js';
import { CONFIG_FILES } from './config-file.js';

export const CONFIG_TS = `// kfault's configuration: every key is optional (the defaults are kfault's own).
// Flags on the command line go on top of it. See the README's "Configuration" section.
import { defineConfig } from 'kfault';

export default defineConfig({
  // kernel: { fragments: ['debug.config'], patches: 'patches/' },  // or tree: '../linux', or image: 'bzImage'
  machine: { accel: 'auto' },                                     // KVM when it works, TCG otherwise
  sweep: { mode: 'systematic', maxSteps: 1000 },                  // fail-nth 1, 2, 3... per harness
  // modules: ['drivers/mydrv'],                                  // kbuild dirs or .ko files, loaded first
  harnesses: ['pipe2'],                                           // what \`kfault sweep\` sweeps by default
  kmemleak: { check: true },                                      // scan after the sweeps, leaks tied to steps
  // faults: { failslab: { require: 'my_driver_ioctl' } },        // only faults under this function count
});
`;

export const CONFIG_JSON = `${JSON.stringify(
  {
    $schema: SCHEMA_REF,
    machine: { accel: 'auto' },
    sweep: { mode: 'systematic', maxSteps: 1000 },
    harnesses: ['pipe2'],
    kmemleak: { check: true },
  },
  null,
  2,
)}\n`;

export class InitError extends Error {
  readonly exitCode = 2;
}

/** Writes the starting config in dir; never overwrites, nor shadows, a config file there. */
export function writeStartingConfig(dir: string, json: boolean): string {
  const file = join(dir, json ? 'kfault.config.json' : 'kfault.config.ts');
  const existing = CONFIG_FILES.map((f) => join(dir, f)).find((f) => existsSync(f));
  if (existing) {
    throw new InitError(
      existing === file
        ? `kfault init: ${basename(file)} exists; not overwriting it`
        : `kfault init: ${basename(existing)} exists (kfault reads the first of ${CONFIG_FILES.join(', ')}); not writing ${basename(file)} beside it`,
    );
  }
  writeFileSync(file, json ? CONFIG_JSON : CONFIG_TS, { flag: 'wx' });
  return file;
}
