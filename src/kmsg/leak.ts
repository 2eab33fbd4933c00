// The schema of one kmemleak report entry (kmemleak-report.ts parses them): on its own, so that
// the parser has no zod and the guest agent loads none.
import { z } from 'zod';

export const Leak = z.strictObject({
  address: z.string(),
  size: z.number().int().nonnegative(),
  comm: z.string(),
  pid: z.number().int(),
  jiffies: z.number(),
  crc: z.string().nullable(),
  hexDump: z.array(z.string()),
  /** "symbol+0xoff/0xsize" (and " [module]"), innermost first */
  frames: z.array(z.string()),
});
export type Leak = z.infer<typeof Leak>;
