// The schema of a fault site (fault-trace.ts parses them from the kernel log): on its own, so
// that the parser has no zod and the guest agent loads none.
import { z } from 'zod';

export const FaultSite = z.strictObject({
  injector: z.string(),
  /** e.g. "alloc_pipe_info+0x66", the first frame outside fault injection and the allocator */
  callSite: z.string().nullable(),
  /** the function that called it, e.g. "create_pipe_files" */
  caller: z.string().nullable(),
  /** reliable frames, innermost first, as "name+0xoff" */
  frames: z.array(z.string()),
  /** the fault struck one of kmemleak's own allocations */
  inKmemleak: z.boolean(),
  /** where the site came from: fault injection's own trace in the kernel log, or (for a
   * __GFP_NOWARN allocation, which logs none) the allocation tracepoint that saw it fail */
  from: z.enum(['kmsg', 'tracepoint']).default('kmsg'),
});
export type FaultSite = z.infer<typeof FaultSite>;
