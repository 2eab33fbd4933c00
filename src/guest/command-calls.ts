// Which syscalls of a program a sweep can aim at.

/** Syscalls that do not return to the program: there is no exit of theirs to read fail-nth at. */
export const NO_RETURN = new Set(['exit', 'exit_group']);
