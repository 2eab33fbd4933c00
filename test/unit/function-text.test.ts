// Function mode's text formats, on text saved from the real guest (test/fixtures/fail-function/,
// see its README), and the error for a kernel without fail_function or kprobe events.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/config.js';
import { eventsInOrder, functionModeMissing, isSyscallEntry, notOnFtrace, parseInjectable, parseRetval, retvalText } from '../../src/guest/function-text.js';
import { parseFaultSites } from '../../src/kmsg/fault-trace.js';

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
    expect(syscalls).toContain('__do_sys_fork');
    expect(syscalls.length).toBe(352);
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
    // f0 (should_failslab) many times, f2 (should_fail_alloc_page) once in between
    expect(eventsInOrder(fixture('trace-kprobe-events.txt'))).toEqual(['f0', 'f2']);
    expect(eventsInOrder('# tracer: nop\n#\n')).toEqual([]);
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

describe("fail_function's kprobe: on ftrace, or an int3 one the task filter cannot work with", () => {
  it('an int3 kprobe (no [FTRACE] in kprobes/list): why, naming CONFIG_FUNCTION_TRACER', () => {
    expect(notOnFtrace(fixture('kprobes-list-int3.txt'), '__filemap_add_folio')).toMatch(
      /^fail_function's kprobe on __filemap_add_folio is not on ftrace \(\/sys\/kernel\/debug\/kprobes\/list: "ffffffff81109f2d  k  __filemap_add_folio\+0x0"\): .* CONFIG_FUNCTION_TRACER=y/,
    );
    expect(notOnFtrace(fixture('kprobes-list-int3.txt'), 'should_failslab')).toMatch(/no line for it/);
  });

  it('a kprobe on ftrace passes', () => {
    expect(notOnFtrace('ffffffff81158b7a  k  should_failslab+0x4    [FTRACE]\n', 'should_failslab')).toBeNull();
  });
});

describe("fail_function's stack dump (an int3 kprobe, from dmesg)", () => {
  it('the failed function comes from the exception RIP; kprobe frames are no call site', () => {
    const [site] = parseFaultSites(fixture('kmsg-filemap-add-folio-int3.txt'));
    expect(site?.injector).toBe('fail_function');
    expect(site?.frames.slice(0, 11)).toEqual([
      'dump_stack_lvl+0x59', 'dump_stack+0x10', 'should_fail_ex+0x134', 'should_fail+0xb', 'fei_kprobe_handler+0x1e', 'aggr_pre_handler+0x4a',
      'kprobe_int3_handler+0xb2', 'do_int3+0xd', 'exc_int3+0x88', 'asm_exc_int3+0x3a', '__filemap_add_folio+0x1',
    ]);
    expect(site?.callSite).toBe('__filemap_add_folio+0x1');
    expect(site?.caller).toBe('__filemap_get_folio');
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
