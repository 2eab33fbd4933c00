// The agent's reader of the host's requests (src/guest/request-lines.ts, on src/guest/bounded-lines.ts):
// a host that sends a line without end must end it with KFAULT_PROTOCOL, with the guest's memory
// bounded, instead of growing it until the guest dies.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BYTES } from '../../src/guest/channel.js';
import { requestLines } from '../../src/guest/request-lines.js';

async function collect(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const l of it) out.push(l);
  return out;
}

describe("the agent's request reader", () => {
  it('gives lines in order, split across chunks, CRLF cut, a last line without newline too', async () => {
    const s = new PassThrough();
    const lines = collect(requestLines(s, 1024));
    s.write('{"a":');
    s.write('1}\r\n{"b":2}\n\n{"c"');
    s.end(':3}');
    expect(await lines).toEqual(['{"a":1}', '{"b":2}', '', '{"c":3}']);
  });

  it('a line without a newline, far past the bound: KFAULT_PROTOCOL, reading stops, memory bounded', async () => {
    const s = new PassThrough({ highWaterMark: 1 << 20 });
    const before = process.memoryUsage().rss;
    const seen: string[] = [];
    const done = (async () => {
      for await (const l of requestLines(s, MAX_MESSAGE_BYTES)) seen.push(l);
    })().then(() => 'ended', (e: Error & { code?: string }) => e);
    s.write('{"type":"harnesses","id":1}\n');
    const chunk = Buffer.alloc(1 << 20, 0x61);
    let sent = 0;
    // the reader stops taking data once it fails: the pipe fills and write() says so
    while (sent < 200 << 20 && s.write(chunk)) {
      sent += chunk.length;
      await new Promise((r) => setImmediate(r));
    }
    const e = await done;
    expect(seen).toEqual(['{"type":"harnesses","id":1}']);
    expect(e).toMatchObject({ code: 'KFAULT_PROTOCOL', message: expect.stringMatching(new RegExp(`^the host sent a line of more than \\d+ bytes without a newline; a request holds at most ${MAX_MESSAGE_BYTES}$`)) });
    expect(sent).toBeLessThan(MAX_MESSAGE_BYTES + (4 << 20));
    expect(process.memoryUsage().rss - before).toBeLessThan(3 * MAX_MESSAGE_BYTES);
  }, 60_000);

  it('a line of exactly the bound is a line', async () => {
    const s = new PassThrough();
    const lines = collect(requestLines(s, 4096));
    s.end('x'.repeat(4096) + '\n');
    expect((await lines).map((l) => l.length)).toEqual([4096]);
  });

  it('reads ahead at most 64 lines while a request is being served, and loses none', async () => {
    const s = new PassThrough();
    const it = requestLines(s, 1024)[Symbol.asyncIterator]();
    const first = it.next();
    for (let i = 0; i < 1000; i++) s.write(`${i}\n`);
    s.end();
    expect((await first).value).toBe('0');
    await new Promise((r) => setTimeout(r, 20));
    expect(s.isPaused()).toBe(true); // the other 999 wait in the stream, not in the reader
    const rest: string[] = [];
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value);
    expect(rest).toEqual(Array.from({ length: 999 }, (_, i) => String(i + 1)));
  });
});
