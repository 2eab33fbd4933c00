import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { checkKconfig, formatMismatches, parseKconfig } from '../../src/kernel/kconfig.js';

describe('kconfig', () => {
  it('parses set, unset and valued options', () => {
    const k = parseKconfig('CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=16000\nCONFIG_D="x y"\n# comment\n');
    expect([...k]).toEqual([
      ['CONFIG_A', 'y'],
      ['CONFIG_B', 'n'],
      ['CONFIG_C', '16000'],
      ['CONFIG_D', '"x y"'],
    ]);
  });

  it('names an option the final .config dropped', () => {
    const fragment = parseKconfig('CONFIG_FAILSLAB=y\nCONFIG_DEBUG_KMEMLEAK=y\n# CONFIG_DEBUG_KMEMLEAK_AUTO_SCAN is not set\n');
    const dotconfig = parseKconfig('CONFIG_FAILSLAB=y\n# CONFIG_DEBUG_KMEMLEAK is not set\nCONFIG_DEBUG_KMEMLEAK_AUTO_SCAN=y\n');
    const ms = checkKconfig(fragment, dotconfig);
    expect(formatMismatches(ms)).toBe(
      '  CONFIG_DEBUG_KMEMLEAK: asked for y, .config has n\n  CONFIG_DEBUG_KMEMLEAK_AUTO_SCAN: asked for n, .config has y',
    );
  });

  it('treats an absent option as not set', () => {
    expect(checkKconfig(parseKconfig('# CONFIG_X is not set'), new Map())).toEqual([]);
    expect(checkKconfig(parseKconfig('CONFIG_X=y'), new Map())).toEqual([{ option: 'CONFIG_X', wanted: 'y', got: 'not set' }]);
  });

  it('the project fragment asks for fault injection and kmemleak', () => {
    const k = parseKconfig(readFileSync(new URL('../../kernel/kfault.config', import.meta.url), 'utf8'));
    for (const o of ['CONFIG_FAILSLAB', 'CONFIG_FAIL_PAGE_ALLOC', 'CONFIG_FAULT_INJECTION_DEBUG_FS', 'CONFIG_DEBUG_KMEMLEAK', 'CONFIG_9P_FS', 'CONFIG_VIRTIO_CONSOLE']) {
      expect(k.get(o), o).toBe('y');
    }
  });
});
