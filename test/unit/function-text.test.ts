// Function mode's text formats, on text saved from the real guest (test/fixtures/fail-function/,
// see its README), and the error for a kernel without fail_function or kprobe events.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/config.js';
import { eventsInOrder, functionModeMissing, isSyscallEntry, parseInjectable, parseRetval, retvalText } from '../../src/guest/function-text.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/fail-function/${name}`, import.meta.url), 'utf8');

describe("fail_function's injectable list", () => {
  const list = parseInjectable(fixture('injectable-block-6.12.117.txt'));

  it('reads every line: a function and its error type', () => {
    expect(list.length).toBe(fixture('injectable-block-6.12.117.txt').trim().split('\n').length);
    expect(list).toContainEqual({ name: 'should_failslab', type: 'ERRNO' });
    expect(list).toContainEqual({ name: 'should_fail_alloc_page', type: 'TRUE' });
    expect(list).toContainEqual({ name: '__filemap_add_folio', type: 'ERRNO' });
    expect(new Set(list.map((f) => f.type))).toEqual(new Set(['ERRNO', 'TRUE']));
  });

  it('tells syscall entry points from the functions with error paths behind them', () => {
    const syscalls = list.filter((f) => isSyscallEntry(f.name)).map((f) => f.name);
    expect(syscalls).toContain('__x64_sys_openat');
    expect(syscalls).toContain('__ia32_sys_openat');
    const rest = list.filter((f) => !isSyscallEntry(f.name)).map((f) => f.name);
    expect(rest).toEqual(expect.arrayContaining(['should_failslab', 'should_fail_alloc_page', '__filemap_add_folio', 'should_fail_bio']));
    expect(rest.every((n) => !/sys_/.test(n))).toBe(true);
  });

  it('a line of another shape is an error naming it', () => {
    expect(() => parseInjectable('should_failslab ERRNO\n')).toThrow('fail_function/injectable: unexpected line "should_failslab ERRNO"; expected "function<TAB>TYPE"');
  });
});

describe('the kprobe events trace', () => {
  it('lists the events hit, each once, in order of first hit', () => {
    expect(eventsInOrder(fixture('trace-open-kf1.txt'))).toEqual(FIRST_HITS);
  });
});

describe("fail_function's retval file", () => {
  it('reads the unsigned hex the kernel prints as a signed number, and writes it back as one', () => {
    expect(parseRetval(fixture('retval-should_failslab.txt'))).toBe(-22);
    expect(parseRetval('1\n')).toBe(1);
    expect(retvalText(-12)).toBe('0xfffffffffffffff4');
    expect(retvalText(1)).toBe('0x1');
    expect(() => parseRetval('-22')).toThrow('fail_function retval: expected a hex number, read "-22"');
  });
});

describe('a kernel without function mode', () => {
  it('the default kernel (neither): names the CONFIG_ options and --profile block', () => {
    expect(functionModeMissing(() => false)).toBe(
      'function mode (sweep.mode "function") needs fail_function and kprobe events, and this kernel has no /sys/kernel/debug/fail_function (CONFIG_FAIL_FUNCTION=y, which needs CONFIG_FUNCTION_ERROR_INJECTION=y and CONFIG_KPROBES=y) and no /sys/kernel/tracing/kprobe_events (CONFIG_KPROBE_EVENTS=y); boot the block kernel, which has them all: --profile block (config kernel.profiles: ["block"])',
    );
  });

  it('one of them: names only what is missing', () => {
    expect(functionModeMissing((p) => p.includes('fail_function'))).toMatch(/has no \/sys\/kernel\/tracing\/kprobe_events \(CONFIG_KPROBE_EVENTS=y\); boot/);
    expect(functionModeMissing(() => true)).toBeNull();
  });
});

describe('config', () => {
  it('function mode takes faults.fail_function.retval without inject', () => {
    expect(ConfigSchema.safeParse({ sweep: { mode: 'function' }, faults: { fail_function: { retval: -5 } } }).success).toBe(true);
  });
});
