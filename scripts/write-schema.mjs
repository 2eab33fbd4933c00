#!/usr/bin/env node
// Writes schema.json (kfault/schema.json) from the zod config schema; runs after tsc in every
// build (prepare, prepack, build, pretest), so the shipped file is never stale. It lives at the
// package's root because editors read "$schema": "./node_modules/kfault/schema.json" as a file
// path, not through package.json's exports.
import { writeFileSync } from 'node:fs';
import { configJsonSchema } from '../dist/schema.js';

const out = new URL('../schema.json', import.meta.url);
writeFileSync(out, JSON.stringify(configJsonSchema(), null, 2) + '\n');
