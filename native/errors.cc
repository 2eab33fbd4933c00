#include "errors.h"

#include <cstdlib>
#include <cstring>
#include <string>

Napi::Error ErrnoError(Napi::Env env, const kf_error &e)
{
	const char *name = strerrorname_np(e.err);
	std::string code = e.code ? e.code : (name ? name : "UNKNOWN");
	std::string message = code + ": " + (e.message[0] ? e.message : strerror(e.err));
	if (e.syscall)
		message += std::string(", ") + e.syscall;
	if (e.path[0])
		message += std::string(" '") + e.path + "'";

	Napi::Error error = Napi::Error::New(env, message);
	error.Set("code", Napi::String::New(env, code));
	error.Set("errno", Napi::Number::New(env, -e.err));
	if (e.syscall)
		error.Set("syscall", Napi::String::New(env, e.syscall));
	if (e.path[0])
		error.Set("path", Napi::String::New(env, e.path));
	return error;
}

Napi::Value ErrnoName(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (info.Length() < 1 || !info[0].IsNumber())
		return env.Null();
	const char *name = strerrorname_np(std::abs(info[0].As<Napi::Number>().Int32Value()));
	return name ? Napi::String::New(env, name) : env.Null();
}

std::string ErrnoNameOr(int err)
{
	const char *name = strerrorname_np(std::abs(err));
	return name ? name : std::to_string(err);
}
