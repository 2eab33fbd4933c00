// The protocol's size bounds, without zod: the guest agent imports them (and every module it
// loads costs its boot); protocol.ts and guest/channel.ts re-export them.

/** The longest message the host reads from the agent: a step event carries that step's kernel
 * log, which native/isolate.c bounds at 16 MiB; JSON escaping can double it. */
export const MAX_MESSAGE_BYTES = 40 << 20;

/** 2 x 8 MiB in base64 stays well below a message's bound (MAX_MESSAGE_BYTES) */
export const SHELL_OUTPUT_MAX = 8 << 20;
