#pragma once
#include <napi.h>

// readTree(): see attrs.cc
void InitAttrs(Napi::Env env, Napi::Object exports);
