#pragma once
#include <napi.h>

#include "kfault.h"

// The one place where an errno becomes a JS error, shaped like Node's own fs errors:
// message "ENOMEM: Cannot allocate memory, open '/path'", with code, errno (negative, as in
// Node), syscall and path.
Napi::Error ErrnoError(Napi::Env env, const kf_error &e);
