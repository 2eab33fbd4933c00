#!/usr/bin/env node
// Writes dist/schema.json (kfault/schema.json) from the zod config schema; runs after tsc in
// every build (prepare, prepack, build, pretest), so the shipped file is never stale.
import { writeFileSync } from 'node:fs';
import { configJsonSchema } from '../dist/schema.js';

const out = new URL('../dist/schema.json', import.meta.url);
writeFileSync(out, JSON.stringify(configJsonSchema(), null, 2) + '\n');
