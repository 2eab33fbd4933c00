// Which syscall an injected fault struck, from its stack (FaultSite.frames, innermost first):
// the syscall's entry point, "__x64_sys_pipe2+0x..." or "__do_sys_pipe2+0x...". A fault in a
// page fault of the program (user memory touched for the first time) is no syscall's.
const SYSCALL_FRAME = /^(?:__x64_sys|__ia32_sys|__x64_compat_sys|__ia32_compat_sys|__se_sys|__do_sys|__do_compat_sys)_(\w+?)(?:\.\w+\.\d+)*\+0x/;
const PAGE_FAULT_FRAME = /^(?:exc_page_fault|asm_exc_page_fault|do_user_addr_fault)\+0x/;

/** "pipe2", "(page fault)", or null when the stack shows neither. */
export function syscallOfFault(frames: string[]): string | null {
  for (const f of frames) {
    const m = SYSCALL_FRAME.exec(f);
    if (m) return m[1]!;
  }
  return frames.some((f) => PAGE_FAULT_FRAME.test(f)) ? '(page fault)' : null;
}
