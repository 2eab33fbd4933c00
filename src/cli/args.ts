// Command-line flags -> a config object (validated by the same schema as config files).
import { parseArgs } from 'node:util';
import { ConfigError, type Config } from '../config.js';
import { readConfigFile } from './config-file.js';
import { checkedConfig } from '../sweep-batch.js';

export const options = {
  config: { type: 'string' },
  image: { type: 'string' },
  tree: { type: 'string' },
  fragment: { type: 'string', multiple: true },
  patches: { type: 'string' },
  kasan: { type: 'boolean' },
  profile: { type: 'string', multiple: true },
  disk: { type: 'string', multiple: true },
  accel: { type: 'string' },
  cpus: { type: 'string' },
  memory: { type: 'string' },
  'max-steps': { type: 'string' },
  'kmemleak-filter': { type: 'string' },
  'log-dir': { type: 'string' },
  json: { type: 'boolean' },
  junit: { type: 'string' },
  ktap: { type: 'string' },
  format: { type: 'string' },
  merge: { type: 'boolean' },
  runs: { type: 'string' },
  sweep: { type: 'boolean' },
  call: { type: 'string' },
  timeout: { type: 'string' },
  'max-calls': { type: 'string' },
  mode: { type: 'string' },
  iterations: { type: 'string' },
  seconds: { type: 'string' },
  probability: { type: 'string' },
  interval: { type: 'string' },
  times: { type: 'string' },
  leaks: { type: 'string' },
  module: { type: 'string', multiple: true },
  out: { type: 'string' },
  problem: { type: 'string' },
  a: { type: 'string' },
  b: { type: 'string' },
  'print-qemu': { type: 'boolean' },
  console: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export type Flags = ReturnType<typeof parse>['values'];

export function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new ConfigError([{ path: 'argv', message: (e as Error).message }]);
  }
}

function int(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value)) throw new ConfigError([{ path: `--${flag}`, message: `expected a whole number, got '${value}'` }]);
  return Number(value);
}

function onOff(flag: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value !== 'on' && value !== 'off') throw new ConfigError([{ path: `--${flag}`, message: `expected on or off, got '${value}'` }]);
  return value === 'on';
}

/** --probability/--interval/--times: the failslab and fail_page_alloc knobs, over the file's. */
function knobFlags(faults: Record<string, Record<string, unknown>> | undefined, flags: Flags): Record<string, unknown> {
  const knobs = Object.fromEntries(
    (['probability', 'interval', 'times'] as const).flatMap((k) => (flags[k] === undefined ? [] : [[k, int(k, flags[k])]])),
  );
  if (!Object.keys(knobs).length) return faults ?? {};
  return { ...faults, failslab: { ...faults?.failslab, ...knobs }, fail_page_alloc: { ...faults?.fail_page_alloc, ...knobs } };
}

/** A repeatable flag adds to the file's list. */
function listFlag(fileSection: Record<string, unknown>, key: string, values: string[] | undefined): Record<string, unknown> {
  return values ? { [key]: [...((fileSection[key] as unknown[] | undefined) ?? []), ...values] } : {};
}

/** The config file (if any) with flags on top, validated as the library validates it. */
export async function configFrom(flags: Flags, dir = process.cwd()): Promise<Config> {
  const file = await readConfigFile(flags.config, dir);
  const section = (k: string) => ({ ...((file[k] as object | undefined) ?? {}) }) as Record<string, unknown>;
  const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  return checkedConfig({
    ...file,
    kernel: { ...section('kernel'), ...defined({ image: flags.image, tree: flags.tree, fragments: flags.fragment, patches: flags.patches, kasan: flags.kasan }), ...listFlag(section('kernel'), 'profiles', flags.profile) },
    machine: { ...section('machine'), ...defined({ accel: flags.accel, cpus: int('cpus', flags.cpus), memoryMiB: int('memory', flags.memory) }), ...listFlag(section('machine'), 'disks', flags.disk) },
    sweep: {
      ...section('sweep'),
      ...defined({ mode: flags.mode, iterations: int('iterations', flags.iterations), seconds: int('seconds', flags.seconds), maxSteps: int('max-steps', flags['max-steps']), kmemleakFilter: onOff('kmemleak-filter', flags['kmemleak-filter']) }),
    },
    faults: knobFlags(file.faults as Record<string, Record<string, unknown>> | undefined, flags),
    ...(flags.module ? { modules: [...((file.modules as unknown[] | undefined) ?? []), ...flags.module] } : {}),
    kmemleak: { ...section('kmemleak'), ...defined({ check: onOff('leaks', flags.leaks) }) },
    ...defined({ logDir: flags['log-dir'] }),
  });
}
