// The agent bounds the lines it reads from the host, as the host bounds the agent's: a host that
// sends a line without a newline gets the reason back and QEMU is killed, where the agent's
// readline used to buffer it all (the guest has 1 GiB) and the request to wait for its timeout.
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { boot, GuestError, parseConfig } from '../../src/index.js';
import { MAX_MESSAGE_BYTES } from '../../src/guest/channel.js';

describe("the agent's reader of the host's requests", () => {
  it('a line past the bound: the request fails with KFAULT_PROTOCOL and the agent\'s reason, QEMU is killed', async () => {
    const guest = await boot(parseConfig({}));
    const alive = () => {
      try {
        process.kill(guest.pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    try {
      const socket = (guest as unknown as { machine: { channel: { socket: Socket } } }).machine.channel.socket;
      const chunk = Buffer.alloc(1 << 20, 0x61);
      // not waiting for 'drain': the agent stops reading at the bound, and what is past it stays
      // in the host's buffer
      const start = Date.now();
      for (let sent = 0; sent <= MAX_MESSAGE_BYTES; sent += chunk.length) socket.write(chunk);
      // this request's line is the end of the long one; the agent gives up before it
      const e = await guest.harnesses().catch((x: unknown) => x);
      expect(e).toBeInstanceOf(GuestError);
      expect((e as GuestError).code).toBe('KFAULT_PROTOCOL');
      expect((e as Error).message).toMatch(new RegExp(`^message from guest agent: not JSON: kfault agent: the host sent a line of more than \\d+ bytes without a newline; a request holds at most ${MAX_MESSAGE_BYTES}`));
      console.log(`agent gave up after ${(Date.now() - start) / 1000} s`);
      await guest.close();
      expect(alive()).toBe(false);
    } finally {
      await guest.close();
    }
  }, 300_000);
});
