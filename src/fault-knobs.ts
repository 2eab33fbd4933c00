// The config schema of the fault-injection knobs (config.faults), made from the zod-free table in
// fault-knob-table.ts, which the guest agent uses without loading zod.
import { z } from 'zod';
import { COMMON_KNOBS, INJECTORS, type Knob, type KnobType } from './fault-knob-table.js';

export * from './fault-knob-table.js';

const fn = z.string().regex(/^[A-Za-z_][\w.]*$/, 'expected a kernel function name, as in /proc/kallsyms');
const SymbolRange = z.union([fn, z.tuple([fn, fn])], { error: 'expected a function name, or [first, last] function names' });

type SchemaOf<K extends Knob> = K['type'] extends 'boolean' ? z.ZodBoolean : K['type'] extends 'int' ? z.ZodNumber : K['type'] extends 'symbolRange' ? typeof SymbolRange : z.ZodArray<typeof fn>;

function schemaOf(k: { type: KnobType; min?: number; max?: number }): z.ZodType {
  switch (k.type) {
    case 'boolean':
      return z.boolean();
    case 'symbolRange':
      return SymbolRange;
    case 'functions':
      return z.array(fn);
    case 'int': {
      let s = z.number().int();
      if (k.min !== undefined) s = s.min(k.min);
      if (k.max !== undefined) s = s.max(k.max);
      return s;
    }
  }
}

function optionalShape<T extends Record<string, Knob>>(knobs: T): { [K in keyof T]: z.ZodOptional<SchemaOf<T[K]>> } {
  return Object.fromEntries(Object.entries(knobs).map(([k, v]) => [k, schemaOf(v).optional()])) as never;
}

function injectorSchema<T extends Record<string, Knob>>(own: T) {
  return z.strictObject({ ...optionalShape(COMMON_KNOBS), ...optionalShape(own) }).optional();
}

/** config.faults: any injector, any of its knobs; unset knobs keep the mode's (or kernel's) value. */
export const FaultsConfig = z.strictObject({
  failslab: injectorSchema(INJECTORS.failslab.knobs),
  fail_page_alloc: injectorSchema(INJECTORS.fail_page_alloc.knobs),
  fail_futex: injectorSchema(INJECTORS.fail_futex.knobs),
  fail_usercopy: injectorSchema(INJECTORS.fail_usercopy.knobs),
  fail_make_request: injectorSchema(INJECTORS.fail_make_request.knobs),
  fail_function: injectorSchema(INJECTORS.fail_function.knobs),
});
export type FaultsConfig = z.infer<typeof FaultsConfig>;
