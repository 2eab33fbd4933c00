// node:child_process for the agent's requests that start programs (bench, shell), loaded at the
// first of them: loading it pulls in net, dgram and the stream modules, which under TCG costs the
// guest's boot a noticeable part of Node's start, and no other request needs it.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const childProcess = (): typeof import('node:child_process') => require('node:child_process');
