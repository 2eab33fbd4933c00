// The addon's N-API surface: plain functions over the C core in kfault.h.
#include <napi.h>

#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "attrs.h"
#include "command-addon.h"
#include "errors.h"
#include "kfault.h"

namespace {

Napi::Value Harnesses(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Napi::Array list = Napi::Array::New(env);
	const kf_harness *k;
	for (size_t i = 0; (k = kf_harness_at(i)); i++) {
		Napi::Object h = Napi::Object::New(env);
		h.Set("name", k->name);
		h.Set("syscall", k->syscall);
		h.Set("summary", k->summary);
		list.Set(i, h);
	}
	return list;
}

Napi::Value InGuest(const Napi::CallbackInfo &info)
{
	kf_error e{};
	return Napi::Boolean::New(info.Env(), kf_in_guest(&e) != 0);
}

// A step as it travels from the sweep thread to JavaScript.
struct FsckEvent {
	kf_fsck check;
	std::string out, kmsg;
};
struct StepEvent {
	kf_step step;
	std::string kmsg;
	std::vector<FsckEvent> fsck;
};

Napi::Value FsckValue(Napi::Env env, const std::vector<FsckEvent> &checks)
{
	if (checks.empty())
		return env.Null();
	Napi::Array list = Napi::Array::New(env, checks.size());
	for (size_t i = 0; i < checks.size(); i++) {
		const kf_fsck &f = checks[i].check;
		Napi::Object o = Napi::Object::New(env);
		o.Set("device", f.device);
		o.Set("fs", f.fs);
		o.Set("ran", Napi::Boolean::New(env, f.ran));
		o.Set("status", f.status);
		o.Set("timedOut", Napi::Boolean::New(env, f.timed_out));
		o.Set("replayed", Napi::Boolean::New(env, f.replayed));
		o.Set("replayErrno", f.replay_err ? Napi::Value(Napi::String::New(env, ErrnoNameOr(f.replay_err))) : env.Null());
		o.Set("errorState", Napi::Boolean::New(env, f.error_state));
		o.Set("repaired", Napi::Boolean::New(env, f.repaired));
		o.Set("repairStatus", f.repaired ? Napi::Value(Napi::Number::New(env, f.repair_status)) : env.Null());
		o.Set("ns", Napi::Number::New(env, (double)f.ns));
		o.Set("note", f.note);
		o.Set("output", checks[i].out);
		o.Set("outputBytes", Napi::Number::New(env, (double)f.out_total));
		o.Set("kmsg", checks[i].kmsg);
		list.Set(i, o);
	}
	return list;
}

// Runs a sweep from a libuv pool thread (kf_sweep gives it a thread of its own, where fail-nth
// is armed, the harness runs and the countdown is read back, as /proc/thread-self/fail-nth
// requires). Each step reaches onStep as soon as it is done, so a crash loses none.
class SweepWorker : public Napi::AsyncProgressQueueWorker<StepEvent> {
public:
	SweepWorker(Napi::Env env, Napi::Function on_step, std::string dir, kf_sweep_opts opts,
		    std::vector<int> skip)
		: Napi::AsyncProgressQueueWorker<StepEvent>(env),
		  deferred_(Napi::Promise::Deferred::New(env)), on_step_(Napi::Persistent(on_step)),
		  dir_(std::move(dir)), opts_(opts), skip_(std::move(skip)) {}

	Napi::Promise Promise() { return deferred_.Promise(); }

	// The harness: a built-in by name, or a user's shared object (loaded in a child process).
	bool Use(Napi::Env env, const std::string &name, const std::string &library, const std::string &arg)
	{
		library_ = library;
		arg_ = arg;
		if (!library.empty())
			return true;
		harness_ = kf_find_harness(name.c_str());
		if (!harness_)
			deferred_.Reject(Napi::Error::New(env, "unknown harness '" + name + "'").Value());
		return harness_ != nullptr;
	}

	void Execute(const ExecutionProgress &progress) override
	{
		opts_.skip = skip_.data();
		opts_.nskip = skip_.size();
		progress_ = &progress;
		if (!library_.empty())
			failed_ = kf_sweep_isolated(library_.c_str(), arg_.c_str(), dir_.c_str(), &opts_,
						    OnStep, this, &complete_, &error_) < 0;
		else
			failed_ = kf_sweep(harness_, dir_.c_str(), &opts_, OnStep, this, &complete_, &error_) < 0;
	}

	void OnProgress(const StepEvent *events, size_t count) override
	{
		Napi::Env env = Env();
		Napi::HandleScope scope(env);
		for (size_t i = 0; i < count; i++) {
			const kf_step &s = events[i].step;
			Napi::Object o = Napi::Object::New(env);
			o.Set("nth", s.nth);
			o.Set("ret", s.ret);
			o.Set("injected", Napi::Boolean::New(env, s.injected));
			o.Set("tid", s.tid);
			o.Set("signal", s.signal ? Napi::Value(Napi::String::New(env, sigabbrev_np(s.signal) ? std::string("SIG") + sigabbrev_np(s.signal) : std::to_string(s.signal))) : env.Null());
			o.Set("ns", Napi::Number::New(env, (double)s.ns));
			o.Set("kmsg", Napi::String::New(env, events[i].kmsg));
			o.Set("fsck", FsckValue(env, events[i].fsck));
			on_step_.Call({ o });
		}
	}

	void OnOK() override
	{
		Napi::Env env = Env();
		if (failed_) {
			deferred_.Reject(ErrnoError(env, error_).Value());
			return;
		}
		Napi::Object result = Napi::Object::New(env);
		result.Set("complete", Napi::Boolean::New(env, complete_ != 0));
		deferred_.Resolve(result);
	}

	void OnError(const Napi::Error &e) override { deferred_.Reject(e.Value()); }

private:
	static void OnStep(void *opaque, const kf_step *s)
	{
		auto *self = static_cast<SweepWorker *>(opaque);
		StepEvent ev{ *s, std::string(s->kmsg, s->kmsg_len), {} };
		ev.step.kmsg = nullptr;
		for (int i = 0; i < s->nfsck; i++) {
			const kf_fsck &f = s->fsck[i];
			ev.fsck.push_back({ f, std::string(f.out, f.out_len), std::string(f.kmsg, f.kmsg_len) });
			ev.fsck.back().check.out = nullptr;
			ev.fsck.back().check.kmsg = nullptr;
		}
		ev.step.fsck = nullptr;
		self->progress_->Send(&ev, 1);
	}

	Napi::Promise::Deferred deferred_;
	Napi::FunctionReference on_step_;
	std::string dir_;
	kf_sweep_opts opts_;
	std::vector<int> skip_;
	const kf_harness *harness_ = nullptr;
	std::string library_, arg_;
	const ExecutionProgress *progress_ = nullptr;
	int complete_ = 0;
	bool failed_ = false;
	kf_error error_{};
};

// Global random injection for a while (stress): a whole loop on one pool thread, like a sweep.
class StressWorker : public Napi::AsyncWorker {
public:
	StressWorker(Napi::Env env, const kf_harness *harness, std::string dir, long ms,
		     std::vector<std::string> paths, std::vector<int> probability)
		: Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)),
		  harness_(harness), dir_(std::move(dir)), ms_(ms), paths_(std::move(paths)),
		  probability_(std::move(probability)) {}

	Napi::Promise Promise() { return deferred_.Promise(); }

	void Execute() override
	{
		std::vector<const char *> paths;
		for (const auto &p : paths_)
			paths.push_back(p.c_str());
		failed_ = kf_stress(harness_, dir_.c_str(), ms_, paths.data(), probability_.data(),
				    (int)paths.size(), &out_, &error_) < 0;
	}

	void OnOK() override
	{
		Napi::Env env = Env();
		if (failed_) {
			deferred_.Reject(ErrnoError(env, error_).Value());
			return;
		}
		Napi::Object result = Napi::Object::New(env);
		result.Set("runs", Napi::Number::New(env, (double)out_.runs));
		result.Set("failed", Napi::Number::New(env, (double)out_.failed));
		result.Set("ns", Napi::Number::New(env, (double)out_.ns));
		deferred_.Resolve(result);
	}

	void OnError(const Napi::Error &e) override { deferred_.Reject(e.Value()); }

private:
	Napi::Promise::Deferred deferred_;
	const kf_harness *harness_;
	std::string dir_;
	long ms_;
	std::vector<std::string> paths_;
	std::vector<int> probability_;
	kf_stress_result out_{};
	bool failed_ = false;
	kf_error error_{};
};

Napi::Value Reject(Napi::Env env, Napi::Error error)
{
	auto deferred = Napi::Promise::Deferred::New(env);
	deferred.Reject(error.Value());
	return deferred.Promise();
}

std::string StringProp(Napi::Object o, const char *key)
{
	Napi::Value v = o.Get(key);
	return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
}

// sweep(target: {harness} | {library, arg}, dir, {first, last, skip}, onStep): Promise<{complete}>
Napi::Value Sweep(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	const char *usage = "sweep(target: {harness} | {library, arg}, dir: string, "
			    "steps: {first, last, skip}, onStep: (step) => void)";
	if (info.Length() < 4 || !info[0].IsObject() || !info[1].IsString() || !info[2].IsObject() ||
	    !info[3].IsFunction())
		return Reject(env, Napi::TypeError::New(env, usage));
	Napi::Object target = info[0].As<Napi::Object>(), steps = info[2].As<Napi::Object>();
	kf_sweep_opts opts{};
	opts.first = steps.Get("first").ToNumber().Int32Value();
	opts.last = steps.Get("last").ToNumber().Int32Value();
	if (opts.first < 1 || opts.last < opts.first || opts.last > 1000000)
		return Reject(env, Napi::RangeError::New(env, "steps: expected 1 <= first <= last <= 1000000"));
	opts.random = steps.Get("random").ToBoolean().Value();
	std::vector<int> skip;
	if (steps.Get("skip").IsArray()) {
		Napi::Array arr = steps.Get("skip").As<Napi::Array>();
		for (uint32_t i = 0; i < arr.Length(); i++)
			skip.push_back(arr.Get(i).ToNumber().Int32Value());
	}
	std::string name = StringProp(target, "harness"), library = StringProp(target, "library");
	if (library.empty() && !kf_find_harness(name.c_str()))
		return Reject(env, Napi::Error::New(env, "unknown harness '" + name + "'"));
	// Before dlopen: a user's shared object never even loads on the host.
	kf_error e{};
	if (!kf_in_guest(&e))
		return Reject(env, ErrnoError(env, e));
	auto *worker = new SweepWorker(env, info[3].As<Napi::Function>(), info[1].As<Napi::String>(),
				       opts, std::move(skip));
	Napi::Promise promise = worker->Promise();
	if (!worker->Use(env, name, library, StringProp(target, "arg"))) {
		delete worker;
		return promise;
	}
	worker->Queue();
	return promise;
}

// loadModule(path: string, params: string): "loaded" | "already loaded"; throws like fs errors
Napi::Value LoadModule(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) {
		Napi::TypeError::New(env, "loadModule(path: string, params: string)").ThrowAsJavaScriptException();
		return env.Undefined();
	}
	kf_error e{};
	int r = kf_load_module(info[0].As<Napi::String>().Utf8Value().c_str(),
			       info[1].As<Napi::String>().Utf8Value().c_str(), &e);
	if (r < 0) {
		ErrnoError(env, e).ThrowAsJavaScriptException();
		return env.Undefined();
	}
	return Napi::String::New(env, r == 1 ? "already loaded" : "loaded");
}

// stress(name, dir, ms, probabilityPaths: string[], probabilities: number[]): Promise<StressResult>
Napi::Value Stress(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (info.Length() < 4 || !info[0].IsString() || !info[1].IsString() || !info[2].IsNumber() ||
	    !info[3].IsArray() || !info[4].IsArray() ||
	    info[3].As<Napi::Array>().Length() != info[4].As<Napi::Array>().Length())
		return Reject(env, Napi::TypeError::New(env, "stress(name: string, dir: string, ms: number, probabilityPaths: string[], probabilities: number[] of the same length)"));
	std::string name = info[0].As<Napi::String>();
	const kf_harness *h = kf_find_harness(name.c_str());
	if (!h)
		return Reject(env, Napi::Error::New(env, "unknown harness '" + name + "'"));
	Napi::Array arr = info[3].As<Napi::Array>(), probs = info[4].As<Napi::Array>();
	std::vector<std::string> paths;
	std::vector<int> probability;
	for (uint32_t i = 0; i < arr.Length(); i++) {
		paths.push_back(arr.Get(i).As<Napi::String>());
		probability.push_back(probs.Get(i).As<Napi::Number>().Int32Value());
	}
	kf_error e{};
	if (!kf_in_guest(&e))
		return Reject(env, ErrnoError(env, e));
	auto *worker = new StressWorker(env, h, info[1].As<Napi::String>(),
					info[2].As<Napi::Number>().Int64Value(), std::move(paths), std::move(probability));
	Napi::Promise promise = worker->Promise();
	worker->Queue();
	return promise;
}

// lockTry(path: string, holder: string): number | null -- the fd holding it, null when held elsewhere
Napi::Value LockTry(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) {
		Napi::TypeError::New(env, "lockTry(path: string, holder: string)").ThrowAsJavaScriptException();
		return env.Undefined();
	}
	kf_error e{};
	int fd = kf_lock_try(info[0].As<Napi::String>().Utf8Value().c_str(),
			     info[1].As<Napi::String>().Utf8Value().c_str(), &e);
	if (fd == -1) {
		ErrnoError(env, e).ThrowAsJavaScriptException();
		return env.Undefined();
	}
	return fd == -2 ? env.Null() : Napi::Number::New(env, fd);
}

// lockRelease(fd: number)
Napi::Value LockRelease(const Napi::CallbackInfo &info)
{
	if (info.Length() >= 1 && info[0].IsNumber())
		kf_lock_release(info[0].As<Napi::Number>().Int32Value());
	return info.Env().Undefined();
}

// kmsgOpen(fromStart: boolean): an fd on /dev/kmsg at its end (or its oldest record)
Napi::Value KmsgOpen(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = kf_kmsg_open(info.Length() >= 1 && info[0].ToBoolean().Value());
	if (fd < 0) {
		kf_error e{};
		kf_set_error(&e, errno, "open", "/dev/kmsg");
		ErrnoError(env, e).ThrowAsJavaScriptException();
		return env.Undefined();
	}
	return Napi::Number::New(env, fd);
}

static void PushRecord(void *opaque, unsigned long long usec, const char *text, size_t len)
{
	auto *out = static_cast<std::vector<std::pair<unsigned long long, std::string>> *>(opaque);
	out->emplace_back(usec, std::string(text, len - 1)); // without the newline
}

// kmsgRead(fd): [{ usec, text }] of every record logged since the last read
Napi::Value KmsgRead(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::vector<std::pair<unsigned long long, std::string>> records;
	if (info.Length() >= 1 && info[0].IsNumber())
		kf_kmsg_drain(info[0].As<Napi::Number>().Int32Value(), PushRecord, &records);
	Napi::Array list = Napi::Array::New(env, records.size());
	for (size_t i = 0; i < records.size(); i++) {
		Napi::Object r = Napi::Object::New(env);
		r.Set("usec", Napi::Number::New(env, (double)records[i].first));
		r.Set("text", Napi::String::New(env, records[i].second));
		list.Set(i, r);
	}
	return list;
}

Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	exports.Set("lockTry", Napi::Function::New(env, LockTry));
	exports.Set("lockRelease", Napi::Function::New(env, LockRelease));
	exports.Set("harnesses", Napi::Function::New(env, Harnesses));
	exports.Set("inGuest", Napi::Function::New(env, InGuest));
	exports.Set("sweep", Napi::Function::New(env, Sweep));
	exports.Set("stress", Napi::Function::New(env, Stress));
	exports.Set("loadModule", Napi::Function::New(env, LoadModule));
	exports.Set("errnoName", Napi::Function::New(env, ErrnoName));
	exports.Set("kmsgOpen", Napi::Function::New(env, KmsgOpen));
	exports.Set("kmsgRead", Napi::Function::New(env, KmsgRead));
	InitAttrs(env, exports);
	InitCommand(env, exports);
	return exports;
}

} // namespace

NODE_API_MODULE(kfault, Init)
