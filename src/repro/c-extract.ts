// Pieces of kfault's own C sources, taken from the files themselves (never copied by hand), for
// the reproducers: a built-in harness from native/harnesses.c with just what it needs, kfault.h's
// structs, sweep.c's per-run context handling, and the kernel-log reader of native/kmsg.c.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../paths.js';

export const NATIVE = join(packageRoot, 'native');

/** One top-level item of a C file: a preprocessor line, a function, a declaration. */
export interface CItem {
  /** the text, with the comment just above it */
  text: string;
  /** what it defines: a macro, function, variable or struct tag; null for #include & co. */
  name: string | null;
  kind: 'preprocessor' | 'function' | 'declaration';
  /** identifiers it uses (comments and strings left out) */
  uses: Set<string>;
}

/** Comments and string/char literals blanked out (same length), so braces and names in them do not count. */
function blank(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'/g, (m) => m.replace(/[^\n]/g, ' '));
}

const KEYWORDS = new Set(['static', 'const', 'int', 'long', 'char', 'void', 'struct', 'unsigned', 'return', 'if', 'else', 'for', 'while', 'sizeof', 'size_t', 'NULL']);

function identifiers(code: string): Set<string> {
  return new Set([...code.matchAll(/\b[A-Za-z_]\w*\b/g)].map((m) => m[0]).filter((w) => !KEYWORDS.has(w)));
}

/** Splits a C file into its top-level items. */
export function topLevelItems(text: string): CItem[] {
  const code = blank(text);
  const items: CItem[] = [];
  let i = 0;
  let start = 0; // where the pending item (and its leading comment) began
  const push = (end: number) => {
    const piece = text.slice(start, end);
    const c = code.slice(start, end);
    const body = c.trim();
    if (!body) {
      start = end;
      return;
    }
    let name: string | null = null;
    let kind: CItem['kind'] = 'declaration';
    if (body.startsWith('#')) {
      kind = 'preprocessor';
      name = /^#\s*define\s+(\w+)/.exec(body)?.[1] ?? null;
    } else {
      const head = body.slice(0, body.search(/[{=;]/) >= 0 ? body.search(/[{=;]/) : body.length);
      const fnName = /(\w+)\s*\([^()]*\)\s*(?:__attribute__\s*\(\(.*\)\)\s*)?$/s.exec(head.trim());
      if (fnName && /\{\s*$/.test(body.slice(0, body.indexOf('{') + 1)) && body.endsWith('}')) {
        kind = 'function';
        name = fnName[1]!;
      } else {
        const decl = /(\w+)\s*(?:\[[^\]]*\])?\s*$/.exec(head.trim());
        name = decl?.[1] ?? null;
        const tag = /^struct\s+(\w+)\s*$/.exec(head.trim());
        if (tag && body.includes('{')) name = tag[1]!;
      }
    }
    const uses = identifiers(c);
    if (name) uses.delete(name);
    items.push({ text: piece.replace(/^\n+/, '').replace(/\s+$/, ''), name, kind, uses });
    start = end;
  };
  while (i < code.length) {
    // skip whitespace (and the comments, blanked) between items: they stay with the next item
    if (/\s/.test(code[i]!)) {
      i++;
      continue;
    }
    if (code[i] === '#') {
      // a preprocessor line, with its continuations
      let end = i;
      for (;;) {
        const nl = code.indexOf('\n', end);
        if (nl < 0) {
          end = code.length;
          break;
        }
        if (code[nl - 1] === '\\') {
          end = nl + 1;
          continue;
        }
        end = nl;
        break;
      }
      push(end);
      i = end;
      continue;
    }
    let depth = 0;
    let end = i;
    for (; end < code.length; end++) {
      const ch = code[end];
      if (ch === '{' || ch === '(' || ch === '[') depth++;
      else if (ch === '}' || ch === ')' || ch === ']') {
        depth--;
        if (depth === 0 && ch === '}') {
          // a function body ends here; an initializer or struct goes on to its ';'
          const rest = code.slice(end + 1);
          const next = rest.search(/\S/);
          if (next < 0 || rest[next] !== ';') {
            const headEnd = code.slice(i, end).indexOf('{');
            const head = code.slice(i, i + headEnd);
            if (/\)\s*$/.test(head)) {
              end++;
              break;
            }
          }
        }
      } else if (ch === ';' && depth === 0) {
        end++;
        break;
      }
    }
    push(end);
    i = end;
  }
  return items;
}

/** The items that define names (transitively) used by roots, in file order. */
export function closure(items: CItem[], roots: string[]): CItem[] {
  const byName = new Map<string, CItem[]>();
  for (const it of items) if (it.name) byName.set(it.name, [...(byName.get(it.name) ?? []), it]);
  const keep = new Set<CItem>();
  const todo = [...roots];
  while (todo.length) {
    const n = todo.pop()!;
    for (const it of byName.get(n) ?? []) {
      if (keep.has(it)) continue;
      keep.add(it);
      todo.push(...it.uses);
    }
  }
  return items.filter((it) => keep.has(it));
}

/** The built-in catalogue's entry for a harness: `{ "name", "syscall", "summary", setup, run, undo, teardown, NULL }`. */
export interface CatalogueEntry {
  text: string;
  name: string;
  functions: string[];
}

export function catalogueEntry(harnessesC: string, name: string, tableName = 'kf_harnesses'): CatalogueEntry | null {
  const table = topLevelItems(harnessesC).find((it) => it.name === tableName);
  if (!table) return null;
  for (const m of table.text.matchAll(/\{\s*"((?:\\.|[^"\\])*)"[^\n]*\}/g)) {
    if (m[1] !== name) continue;
    const fields = blank(m[0]).slice(1, -1).split(',').map((f) => f.trim());
    const functions = fields.slice(3).filter((f) => /^[A-Za-z_]\w*$/.test(f) && f !== 'NULL');
    return { text: m[0], name, functions };
  }
  return null;
}

function read(file: string): string {
  return readFileSync(join(NATIVE, file), 'utf8');
}

/** A struct's definition from kfault.h, with the comment just above it: from `struct TAG {` at
 * the start of a line to the next `};` at the start of a line (the header's extern "C" braces
 * keep it from being split into items). */
function structOf(header: string, tag: string): string {
  const m = new RegExp(`(?:/\\*(?:(?!\\*/)[\\s\\S])*\\*/\\n)?^struct ${tag} \\{$[\\s\\S]*?^\\};$`, 'm').exec(header);
  if (!m) throw new Error(`native/kfault.h: no struct ${tag}`);
  return m[0];
}

/** The C of a built-in harness, ready to compile on its own: kfault.h's structs, the harness's
 * functions and what they use from native/harnesses.c, its catalogue entry as kfr_h, and sweep.c's
 * reset_ctx() and release(). Throws when the harness is not in the catalogue. */
export function builtinHarnessC(name: string): string {
  // the catalogue is two tables: native/harnesses.c's and the ext4 harnesses'
  let src = read('harnesses.c');
  let entry = catalogueEntry(src, name);
  if (!entry) {
    src = read('harnesses-ext4.c');
    entry = catalogueEntry(src, name, 'kf_ext4_harnesses');
  }
  if (!entry) throw new Error(`native/harnesses.c: no built-in harness '${name}'`);
  const items = topLevelItems(src);
  const includes = items.filter((it) => it.kind === 'preprocessor' && /^\s*#\s*include\s*</m.test(it.text)).map((it) => it.text.replace(/^[\s\S]*?(#\s*include)/, '$1'));
  const code = closure(items.filter((it) => it.kind !== 'preprocessor' || it.name), entry.functions);
  const header = read('kfault.h');
  const sweep = topLevelItems(read('sweep.c'));
  const fromSweep = ['reset_ctx', 'release'].map((n) => {
    const it = sweep.find((x) => x.name === n && x.kind === 'function');
    if (!it) throw new Error(`native/sweep.c: no function ${n}()`);
    return it.text;
  });
  return [
    ...includes,
    '',
    '/* from native/kfault.h */',
    'struct kf_user;',
    structOf(header, 'kf_ctx'),
    '',
    structOf(header, 'kf_harness'),
    '',
    `/* from native/harnesses.c: the harness "${name}" and what it uses */`,
    ...code.map((it) => it.text + '\n'),
    `static const struct kf_harness kfr_h = ${entry.text};`,
    '',
    '/* from native/sweep.c: the per-run context, reset before each run and released after it */',
    ...fromSweep.map((t) => t + '\n'),
  ].join('\n');
}

/** native/kmsg.c, the one /dev/kmsg reader, standalone: its callback type from kfault.h instead of the include. */
export function kmsgReaderC(): string {
  const header = readFileSync(join(NATIVE, 'kfault.h'), 'utf8');
  const typedef = /^typedef void \(\*kf_kmsg_fn\)[^;]*;$/m.exec(header)?.[0];
  if (!typedef) throw new Error(`${join(NATIVE, 'kfault.h')}: no kf_kmsg_fn typedef`);
  const reader = readFileSync(join(NATIVE, 'kmsg.c'), 'utf8');
  if (!reader.includes('#include "kfault.h"\n')) throw new Error(`${join(NATIVE, 'kmsg.c')}: no #include "kfault.h"`);
  return reader.replace('#include "kfault.h"\n', `${typedef}\n`);
}
