#pragma once
#include <napi.h>

// commandRun(), syscallNames(): see command-addon.cc
void InitCommand(Napi::Env env, Napi::Object exports);
