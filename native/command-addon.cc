// The N-API side of kfault command (native/command.c): one traced run of a program per call,
// on a libuv pool thread (the tracer: it forks the program, and every ptrace request and wait
// of the run comes from that same thread, as ptrace requires).
#include <napi.h>

#include <csignal>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "command-addon.h"
#include "errors.h"
#include "kfault.h"

namespace {

std::string SignalName(int sig)
{
	const char *abbrev = sig ? sigabbrev_np(sig) : nullptr;
	return abbrev ? std::string("SIG") + abbrev : std::to_string(sig);
}

class CommandWorker : public Napi::AsyncWorker {
public:
	CommandWorker(Napi::Env env, std::string path, std::vector<std::string> argv, std::string cwd,
		      kf_cmd_opts opts)
		: Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)),
		  path_(std::move(path)), argv_(std::move(argv)), cwd_(std::move(cwd)), opts_(opts),
		  run_(new kf_cmd_run()) {}

	Napi::Promise Promise() { return deferred_.Promise(); }

	void Execute() override
	{
		std::vector<char *> argv;
		for (auto &a : argv_)
			argv.push_back(a.data());
		argv.push_back(nullptr);
		opts_.path = path_.c_str();
		opts_.argv = argv.data();
		opts_.cwd = cwd_.c_str();
		failed_ = kf_command_run(&opts_, run_.get(), &error_) < 0;
	}

	void OnOK() override
	{
		Napi::Env env = Env();
		if (failed_) {
			deferred_.Reject(ErrnoError(env, error_).Value());
			return;
		}
		const kf_cmd_run &r = *run_;
		Napi::Object o = Napi::Object::New(env);
		o.Set("started", Napi::Boolean::New(env, r.started));
		o.Set("execErrno", r.exec_errno);
		o.Set("exitCode", r.exit_code >= 0 ? Napi::Value(Napi::Number::New(env, r.exit_code)) : env.Null());
		o.Set("signal", r.signal ? Napi::Value(Napi::String::New(env, SignalName(r.signal))) : env.Null());
		o.Set("timedOut", Napi::Boolean::New(env, r.timed_out));
		o.Set("pid", r.pid);
		o.Set("armed", Napi::Boolean::New(env, r.armed));
		o.Set("reached", Napi::Boolean::New(env, r.reached));
		o.Set("tid", r.tid);
		o.Set("injected", Napi::Boolean::New(env, r.injected));
		o.Set("left", Napi::Number::New(env, (double)r.left));
		o.Set("ret", Napi::Number::New(env, (double)r.ret));
		o.Set("exitedInCall", Napi::Boolean::New(env, r.exited_in_call));
		o.Set("ns", Napi::Number::New(env, (double)r.ns));
		Napi::Array calls = Napi::Array::New(env, r.nordered);
		for (int i = 0; i < r.nordered; i++) {
			int nr = r.order[i];
			const char *name = kf_syscall_name(nr);
			Napi::Object c = Napi::Object::New(env);
			c.Set("nr", nr);
			c.Set("name", name ? std::string(name) : "syscall_" + std::to_string(nr));
			c.Set("count", r.counts[nr]);
			calls.Set(i, c);
		}
		o.Set("syscalls", calls);
		Napi::Array threads = Napi::Array::New(env, r.nthreads);
		for (int i = 0; i < r.nthreads; i++)
			threads.Set(i, r.threads[i]);
		o.Set("threads", threads);
		o.Set("output", Napi::String::New(env, r.output, r.output_len));
		o.Set("outputBytes", Napi::Number::New(env, (double)r.output_total));
		deferred_.Resolve(o);
	}

	void OnError(const Napi::Error &e) override { deferred_.Reject(e.Value()); }

private:
	Napi::Promise::Deferred deferred_;
	std::string path_;
	std::vector<std::string> argv_;
	std::string cwd_;
	kf_cmd_opts opts_;
	std::unique_ptr<kf_cmd_run> run_;
	bool failed_ = false;
	kf_error error_{};
};

Napi::Value Reject(Napi::Env env, Napi::Error error)
{
	auto deferred = Napi::Promise::Deferred::New(env);
	deferred.Reject(error.Value());
	return deferred.Promise();
}

// commandRun({ path, argv, cwd, timeoutMs, mode: 'trace'|'nth'|'random', syscall?, call?, nth? })
Napi::Value CommandRun(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	const char *usage = "commandRun({ path: string, argv: string[], cwd: string, timeoutMs: number, "
			    "mode: 'trace' | 'nth' | 'random', syscall?: string, call?: number, nth?: number })";
	if (info.Length() < 1 || !info[0].IsObject())
		return Reject(env, Napi::TypeError::New(env, usage));
	Napi::Object a = info[0].As<Napi::Object>();
	if (!a.Get("path").IsString() || !a.Get("argv").IsArray() || !a.Get("cwd").IsString() ||
	    !a.Get("timeoutMs").IsNumber() || !a.Get("mode").IsString())
		return Reject(env, Napi::TypeError::New(env, usage));
	std::vector<std::string> argv;
	Napi::Array arr = a.Get("argv").As<Napi::Array>();
	for (uint32_t i = 0; i < arr.Length(); i++) {
		if (!arr.Get(i).IsString())
			return Reject(env, Napi::TypeError::New(env, usage));
		argv.push_back(arr.Get(i).As<Napi::String>().Utf8Value());
	}
	if (argv.empty())
		return Reject(env, Napi::TypeError::New(env, "commandRun: argv: expected at least the program's name"));
	kf_cmd_opts opts{};
	opts.timeout_ms = a.Get("timeoutMs").As<Napi::Number>().Int64Value();
	if (opts.timeout_ms < 1)
		return Reject(env, Napi::RangeError::New(env, "commandRun: timeoutMs: expected at least 1"));
	std::string mode = a.Get("mode").As<Napi::String>().Utf8Value();
	if (mode == "trace")
		opts.mode = KF_CMD_TRACE;
	else if (mode == "random")
		opts.mode = KF_CMD_RANDOM;
	else if (mode == "nth") {
		opts.mode = KF_CMD_NTH;
		std::string name = a.Get("syscall").IsString() ? a.Get("syscall").As<Napi::String>().Utf8Value() : "";
		opts.sysno = kf_syscall_number(name.c_str());
		if (opts.sysno < 0)
			return Reject(env, Napi::Error::New(env, "commandRun: unknown syscall '" + name + "' (x86_64 names, as in <asm/unistd_64.h>)"));
		opts.call = a.Get("call").ToNumber().Int32Value();
		opts.nth = a.Get("nth").ToNumber().Int32Value();
		if (opts.call < 1 || opts.nth < 1)
			return Reject(env, Napi::RangeError::New(env, "commandRun: expected call >= 1 and nth >= 1"));
	} else
		return Reject(env, Napi::TypeError::New(env, usage));
	kf_error e{};
	if (!kf_in_guest(&e))
		return Reject(env, ErrnoError(env, e));
	auto *worker = new CommandWorker(env, a.Get("path").As<Napi::String>(), std::move(argv),
					 a.Get("cwd").As<Napi::String>(), opts);
	Napi::Promise promise = worker->Promise();
	worker->Queue();
	return promise;
}

// syscallNames(): the x86_64 syscall names the tracer knows, by number (null where none)
Napi::Value SyscallNames(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Napi::Array out = Napi::Array::New(env);
	for (int nr = 0; nr < KF_CMD_MAX_SYSCALLS; nr++) {
		const char *name = kf_syscall_name(nr);
		out.Set(nr, name ? Napi::Value(Napi::String::New(env, name)) : env.Null());
	}
	return out;
}

} // namespace

void InitCommand(Napi::Env env, Napi::Object exports)
{
	exports.Set("commandRun", Napi::Function::New(env, CommandRun));
	exports.Set("syscallNames", Napi::Function::New(env, SyscallNames));
}
