export { boot, BootError } from './guest/boot.js';
export { Guest, GuestError } from './guest/guest.js';
export { ensureKernel, type Kernel } from './kernel/build.js';
export { parseConfig, ConfigError, defaults, type Config, type UserConfig } from './config.js';
export { SweepResult, Step, Harness } from './protocol.js';
export { counts, sweepTable, summaryLine } from './report.js';
