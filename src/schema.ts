// The config's JSON Schema, generated from the zod schema (z.toJSONSchema): shipped as
// kfault/schema.json (scripts/write-schema.mjs writes schema.json, at the package root, at every build), so that
// a kfault.config.json with "$schema": "./node_modules/kfault/schema.json" gets completion and
// checks in editors. Cross-field checks (checkModeKnobs and the others, the zod schema's
// superRefine) are not expressible here; kfault itself still runs them.
import { z } from 'zod';
import { ConfigSchema, defaults } from './config.js';
import { COMMON_KNOBS, INJECTORS, INJECTOR_NAMES } from './fault-knobs.js';

/** Where a kfault.config.json in a project finds the schema of the installed package. */
export const SCHEMA_REF = './node_modules/kfault/schema.json';

type Json = { [k: string]: unknown; properties?: Record<string, Json>; description?: string; items?: unknown };

const SECTIONS: Record<string, string> = {
  $schema: `the JSON Schema of this file, for editors ("${SCHEMA_REF}"); kfault ignores it`,
  kernel: `which kernel to boot: Debian's ${defaults.kernel.source} source (default), your own tree, or a prebuilt image; extra Kconfig fragments, a patch series, KASAN, profiles (block)`,
  machine: 'the QEMU guest: accelerator, CPUs, memory, timeouts, extra kernel command-line parameters, scratch disks',
  sweep: 'how harnesses are swept: systematic (fail-nth 1, 2, 3...), random or global mode',
  modules: 'out-of-tree kernel modules the guest loads before sweeping: a kbuild directory or a .ko, or { path, params }',
  kmemleak: 'the kmemleak check after a batch of sweeps, and functions whose leaks are known',
  faults: 'every fault-injection knob, per injector (/sys/kernel/debug/<injector>/)',
  harnesses: 'what `kfault sweep` sweeps when the command line names nothing: catalogue names and C files (FILE.c or FILE.c:ARG); empty: the whole catalogue',
  logDir: `where console logs go (default ${defaults.logDir})`,
};

/** The JSON Schema (draft-07, the most widely supported by editors) of what a config file may hold. */
export function configJsonSchema(): Record<string, unknown> {
  const s = z.toJSONSchema(ConfigSchema, { io: 'input', target: 'draft-7' }) as Json;
  const props = s.properties!;
  // modules: z.preprocess turns a bare string into { path }; toJSONSchema sees only the object.
  props.modules!.items = { anyOf: [{ type: 'string', minLength: 1, description: 'a kbuild directory or a .ko' }, props.modules!.items] };
  const machine = props.machine!.properties!;
  const diskObject = machine.disks!.items as Json;
  // size: bytes or "64M" in the config (zod takes both); the file form is the string
  diskObject.properties!.size = { type: 'string', pattern: '^\\d+[KMGkmg]?$', description: 'e.g. 64M, 1G, 512K (binary units)' };
  machine.disks!.items = { anyOf: [{ type: 'string', pattern: '^\\d+[KMGkmg]?(:(ext4|ext3|ext2|raw)?)?$', description: 'SIZE[:FS], e.g. 64M:ext4' }, machine.disks!.items] };
  for (const [key, description] of Object.entries(SECTIONS)) props[key]!.description = description;
  const faults = props.faults!.properties!;
  for (const inj of INJECTOR_NAMES) {
    const i = INJECTORS[inj];
    const knobs = faults[inj]!.properties!;
    faults[inj]!.description = `${i.what} (${i.config})`;
    for (const [key, k] of [...Object.entries(COMMON_KNOBS), ...Object.entries(i.knobs)] as Array<[string, { file: string; meaning: string; kernelDefault: string }]>) {
      knobs[key]!.description = `${k.file}: ${k.meaning} (kernel default: ${k.kernelDefault})`;
    }
  }
  const { $schema, ...rest } = s;
  return { $schema, title: 'kfault configuration (kfault.config.json)', ...rest };
}
