// Runs a build command, streaming its output line by line to a log file.
import { spawn } from 'node:child_process';
import type { WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  log: WriteStream;
  onLine?: (line: string) => void;
}

export function run(cmd: string, args: string[], o: RunOptions): Promise<void> {
  const tail: string[] = [];
  o.log.write(`$ ${cmd} ${args.join(' ')}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: o.cwd, env: o.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const onLine = (line: string) => {
      o.log.write(line + '\n');
      tail.push(line);
      if (tail.length > 30) tail.shift();
      o.onLine?.(line);
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    child.once('error', (e) => reject(new Error(`cannot run ${cmd}: ${e.message}`)));
    child.once('close', (code, sig) => {
      if (code === 0) return resolve();
      reject(new Error(`${cmd} ${args.join(' ')} failed (${sig ?? `exit ${code}`}); its last lines:\n${tail.join('\n')}\nfull log: ${o.log.path}`));
    });
  });
}
