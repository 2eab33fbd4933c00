#pragma once
#include <napi.h>
#include <string>

#include "kfault.h"

// The one place where an errno becomes a JS error, shaped like Node's own fs errors:
// message "ENOMEM: Cannot allocate memory, open '/path'", with code, errno (negative, as in
// Node), syscall and path.
Napi::Error ErrnoError(Napi::Env env, const kf_error &e);

// errnoName(n): the kernel's name of errno n (glibc's strerrorname_np: EOPNOTSUPP for 95, EAGAIN
// for 11), or null. The one errno-name source: step errnos (src/errno.ts) and error codes alike.
Napi::Value ErrnoName(const Napi::CallbackInfo &info);

// The name of errno err for a record (e.g. "EIO"), or its number as text when it has none.
std::string ErrnoNameOr(int err);
