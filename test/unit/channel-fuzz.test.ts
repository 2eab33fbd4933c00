// The host end of the agent channel and the console, fed what a broken or hostile guest could
// send: oversized lines, random bytes, valid JSON of the wrong shape. Each ends with a clear
// error (never a hang), and host memory stays bounded.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentChannel, MAX_MESSAGE_BYTES } from '../../src/guest/channel.js';
import { CONSOLE_LINE_MAX, ConsoleLog } from '../../src/guest/console.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function pair(): Promise<{ channel: AgentChannel; agent: Socket }> {
  const dir = mkdtempSync(join(tmpdir(), 'kfault-fuzz-'));
  dirs.push(dir);
  const channel = await AgentChannel.listen(join(dir, 'agent.sock'));
  const agent = connect(join(dir, 'agent.sock'));
  agent.on('error', () => {}); // the host hangs up on a bad frame: ECONNRESET here is expected
  await new Promise((r) => agent.once('connect', r));
  agent.write(JSON.stringify({ type: 'ready', kernel: '6.12.117', node: 'v20', uptimeMs: 1, harnesses: [] }) + '\n');
  await channel.whenReady();
  return { channel, agent };
}

const pendingRequest = (channel: AgentChannel) => channel.request({ type: 'harnesses' } as never, 60_000);

describe('agent channel fuzz', () => {
  it('a line without a newline, far past the bound: a clear error, memory bounded', async () => {
    const { channel, agent } = await pair();
    const req = pendingRequest(channel);
    const before = process.memoryUsage().rss;
    const chunk = Buffer.alloc(1 << 20, 0x61);
    let sent = 0;
    const failed = req.then(() => 'replied', (e: Error & { code?: string }) => e);
    while (sent < 200 << 20 && !agent.destroyed) {
      if (!agent.write(chunk)) await new Promise((r) => { agent.once('drain', r); agent.once('close', r); });
      sent += chunk.length;
    }
    const e = await failed;
    expect(e).toMatchObject({ code: 'KFAULT_PROTOCOL', message: expect.stringMatching(new RegExp(`^the guest agent sent a line of more than \\d+ bytes without a newline; a message holds at most ${MAX_MESSAGE_BYTES}$`)) });
    expect(sent).toBeLessThan(200 << 20); // the host hung up instead of reading on
    expect(process.memoryUsage().rss - before).toBeLessThan(3 * MAX_MESSAGE_BYTES);
    agent.destroy();
    channel.close();
  }, 60_000);

  it.each([
    ['random bytes', () => Buffer.concat([randomBytes(4096), Buffer.from('\n')])],
    ['JSON of the wrong shape', () => Buffer.from(JSON.stringify({ type: 'step', id: 1, step: { nth: -3 } }) + '\n')],
    ['a reply with a made-up type', () => Buffer.from(JSON.stringify({ type: 'surprise', id: 1 }) + '\n')],
    ['half a JSON object, then a newline', () => Buffer.from('{"type":"reply","id":1,"ok":tr\n')],
  ])('%s: the pending request fails with KFAULT_PROTOCOL at once', async (_, frame) => {
    const { channel, agent } = await pair();
    const req = pendingRequest(channel);
    agent.write(frame());
    await expect(req).rejects.toMatchObject({ code: 'KFAULT_PROTOCOL' });
    // and later requests fail the same way, without waiting for a timeout
    await expect(pendingRequest(channel)).rejects.toMatchObject({ code: 'KFAULT_PROTOCOL' });
    agent.destroy();
    channel.close();
  });

  it('200 random frames: every run ends with a reply or a clear error, within a second', async () => {
    for (let i = 0; i < 200; i++) {
      const { channel, agent } = await pair();
      const req = pendingRequest(channel);
      const n = 1 + (randomBytes(1)[0]! % 8);
      const frames = Array.from({ length: n }, () => (randomBytes(1)[0]! % 2 ? randomBytes(randomBytes(1)[0]! + 1) : Buffer.from('\n')));
      agent.write(Buffer.concat([...frames, Buffer.from('\n')]));
      agent.end();
      const outcome = await Promise.race([req.then(() => 'reply', (e: Error & { code?: string }) => e.code ?? e.message), new Promise((r) => setTimeout(() => r('hung'), 1000))]);
      expect(outcome, `frames ${Buffer.concat(frames).toString('hex')}`).not.toBe('hung');
      channel.close();
    }
  }, 120_000);
});

describe('console fuzz', () => {
  it('a console line without a newline is cut at the bound and goes on, in memory and in the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kfault-fuzz-'));
    dirs.push(dir);
    const log = new ConsoleLog(join(dir, 'console.log'));
    const stream = new PassThrough();
    log.attach(stream);
    stream.write(Buffer.alloc(3 * CONSOLE_LINE_MAX + 10, 0x62));
    stream.end('\nafter\n');
    await new Promise((r) => setImmediate(r));
    await log.close();
    const lines = readFileSync(join(dir, 'console.log'), 'utf8').split('\n');
    expect(lines.slice(0, 3).map((l) => l.endsWith(`[kfault: console line cut at ${CONSOLE_LINE_MAX} bytes; it goes on below]`))).toEqual([true, true, true]);
    expect(lines.slice(3)).toEqual(['b'.repeat(10), 'after', '']);
    expect(Math.max(...log.lastLines(10).split('\n').map((l) => l.length))).toBeLessThan(CONSOLE_LINE_MAX + 100);
  });
});
