// Finding and reading the config file: kfault.config.ts (defineConfig, typed), .mjs, .js or .json.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../config.js';

export const CONFIG_FILES = ['kfault.config.ts', 'kfault.config.mts', 'kfault.config.mjs', 'kfault.config.js', 'kfault.config.json'];

/** The file --config names, or the first of CONFIG_FILES in dir; undefined when there is none. */
export function findConfigFile(given: string | undefined, dir = process.cwd()): string | undefined {
  if (given !== undefined) {
    const file = resolve(dir, given);
    if (!existsSync(file)) throw new ConfigError([{ path: '--config', message: `${given} does not exist` }]);
    return file;
  }
  return CONFIG_FILES.map((f) => join(dir, f)).find((f) => existsSync(f));
}

const problem = (file: string, message: string) => new ConfigError([{ path: basename(file), message }]);

/** A config module's default export, or the JSON object; {} when there is no file. */
export async function readConfigFile(given: string | undefined, dir = process.cwd()): Promise<Record<string, unknown>> {
  const file = findConfigFile(given, dir);
  if (!file) return {};
  const ext = extname(file);
  let value: unknown;
  if (ext === '.json') {
    try {
      value = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw problem(file, `not valid JSON: ${(e as Error).message}`);
    }
  } else if (ext === '.mjs' || ext === '.js') {
    value = await importDefault(file, file);
  } else if (ext === '.ts' || ext === '.mts') {
    value = await importTypeScript(file);
  } else {
    throw problem(file, `expected a .ts, .mts, .mjs, .js or .json config file, got '${ext || basename(file)}'`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw problem(file, `expected ${ext === '.json' ? 'a JSON object' : 'export default defineConfig({ ... })'}, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
  }
  return value as Record<string, unknown>;
}

async function importDefault(module: string, file: string): Promise<unknown> {
  try {
    const m = (await import(`${pathToFileURL(module).href}?t=${Date.now()}`)) as { default?: unknown };
    return m.default;
  } catch (e) {
    throw problem(file, `failed to load: ${(e as Error).message}`);
  }
}

/** Types are only stripped (typescript's transpileModule), into a module beside the file so that
 * its relative imports and `import { defineConfig } from 'kfault'` resolve as they would there. */
async function importTypeScript(file: string): Promise<unknown> {
  let ts: typeof import('typescript');
  try {
    ts = ((await import('typescript')) as { default: typeof import('typescript') }).default;
  } catch {
    const strip = await nodeTypeStripper();
    if (strip) return importStripped(file, stripWith(file, strip));
    throw problem(file, 'loading a TypeScript config needs the typescript package (npm install -D typescript@5), or write kfault.config.mjs');
  }
  if (typeof ts.transpileModule !== 'function') {
    // TypeScript 7 (the native compiler) has no JS API; Node >= 22.13 strips types itself.
    const strip = await nodeTypeStripper();
    if (strip) return importStripped(file, stripWith(file, strip));
    throw problem(file, `loading a TypeScript config needs typescript's transpileModule, which typescript ${(ts as { version?: string }).version ?? '(unknown version)'} does not have (TypeScript 7 has no JS API): npm install -D typescript@5, or write kfault.config.mjs`);
  }
  const out = ts.transpileModule(readFileSync(file, 'utf8'), {
    fileName: file,
    reportDiagnostics: true,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
  });
  const syntax = out.diagnostics?.[0];
  if (syntax) {
    const where = syntax.file && syntax.start !== undefined ? syntax.file.getLineAndCharacterOfPosition(syntax.start) : undefined;
    throw problem(file, `${where ? `line ${where.line + 1}: ` : ''}${ts.flattenDiagnosticMessageText(syntax.messageText, '\n')}`);
  }
  return importStripped(file, out.outputText);
}

/** Node's own type stripping (module.stripTypeScriptTypes, Node >= 22.13), when it has it. */
async function nodeTypeStripper(): Promise<((code: string) => string) | undefined> {
  const m = (await import('node:module')) as { stripTypeScriptTypes?: (code: string, o?: { mode?: string }) => string };
  const strip = m.stripTypeScriptTypes;
  return typeof strip === 'function' ? (code) => strip(code, { mode: 'transform' }) : undefined;
}

function stripWith(file: string, strip: (code: string) => string): string {
  try {
    return strip(readFileSync(file, 'utf8'));
  } catch (e) {
    throw problem(file, (e as Error).message);
  }
}

/** The module's JS, written beside the config so its imports resolve as they would there. */
async function importStripped(file: string, js: string): Promise<unknown> {
  const tmp = join(dirname(file), `.${basename(file, extname(file))}.${process.pid}.mjs`);
  writeFileSync(tmp, js);
  try {
    return await importDefault(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
}
