// The host checks each request against protocol.ts's schema before it sends it: the guest agent
// checks only a request's id and type (it loads no zod), so a malformed request never leaves the host.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { AgentChannel } from '../../src/guest/channel.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

it('a request that breaks the schema is refused on the host, naming the field, and not sent', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kfault-request-'));
  dirs.push(dir);
  const channel = await AgentChannel.listen(join(dir, 'agent.sock'));
  const agent = connect(join(dir, 'agent.sock'));
  await new Promise((r) => agent.once('connect', r));
  let received = '';
  agent.on('data', (d) => (received += d));
  agent.write(JSON.stringify({ type: 'ready', kernel: '6.12.117', node: 'v20', uptimeMs: 1, harnesses: [] }) + '\n');
  await channel.whenReady();
  const bad = { type: 'sweep', harness: 'pipe2', library: null, arg: '', first: 1, maxSteps: 0, skip: [], random: false, faults: {}, kmemleakText: null, kmemleakTextWhy: 'off' } as const;
  await expect(channel.request(bad, 60_000)).rejects.toMatchObject({ code: 'KFAULT_BAD_REQUEST', message: expect.stringContaining('request sweep to the guest agent: maxSteps: Too small') });
  const good = channel.request({ type: 'harnesses' }, 60_000);
  await new Promise<void>((r) => agent.on('data', () => received.includes('\n') && r()));
  expect(received).toBe('{"type":"harnesses","id":2}\n'); // the refused one never went out
  agent.write('{"type":"reply","id":2,"ok":true,"result":[]}\n');
  await expect(good).resolves.toMatchObject({ ok: true });
  agent.destroy();
  channel.close();
});
