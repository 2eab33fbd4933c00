// The addon's N-API surface: plain functions over the C core in kfault.h.
#include <napi.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

#include "errors.h"
#include "kfault.h"

namespace {

Napi::Value Harnesses(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Napi::Array list = Napi::Array::New(env, kf_harness_count);
	for (size_t i = 0; i < kf_harness_count; i++) {
		Napi::Object h = Napi::Object::New(env);
		h.Set("name", kf_harnesses[i].name);
		h.Set("syscall", kf_harnesses[i].syscall);
		h.Set("summary", kf_harnesses[i].summary);
		list.Set(i, h);
	}
	return list;
}

Napi::Value InGuest(const Napi::CallbackInfo &info)
{
	kf_error e{};
	return Napi::Boolean::New(info.Env(), kf_in_guest(&e) != 0);
}

// Runs the whole sweep on one libuv pool thread: fail-nth is armed, the harness runs and the
// countdown is read back on that same thread, as /proc/thread-self/fail-nth requires.
class SweepWorker : public Napi::AsyncWorker {
public:
	SweepWorker(Napi::Env env, const kf_harness *harness, std::string dir, int max_steps)
		: Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)),
		  harness_(harness), dir_(std::move(dir)), steps_(max_steps) {}

	Napi::Promise Promise() { return deferred_.Promise(); }

	void Execute() override
	{
		failed_ = kf_sweep(harness_, dir_.c_str(), (int)steps_.size(), steps_.data(),
				   &count_, &complete_, &log_, &error_) < 0;
	}

	void OnOK() override
	{
		Napi::Env env = Env();
		if (failed_) {
			deferred_.Reject(ErrnoError(env, error_).Value());
			return;
		}
		Napi::Array steps = Napi::Array::New(env, count_);
		for (size_t i = 0; i < count_; i++) {
			const kf_step &s = steps_[i];
			Napi::Object o = Napi::Object::New(env);
			o.Set("nth", s.nth);
			o.Set("ret", s.ret);
			o.Set("injected", Napi::Boolean::New(env, s.injected));
			o.Set("ns", Napi::Number::New(env, (double)s.ns));
			o.Set("kmsg", Napi::String::New(env, log_.buf ? log_.buf + s.log_off : "", s.log_len));
			steps.Set(i, o);
		}
		Napi::Object result = Napi::Object::New(env);
		result.Set("harness", harness_->name);
		result.Set("steps", steps);
		result.Set("complete", Napi::Boolean::New(env, complete_ != 0));
		deferred_.Resolve(result);
	}

	void OnError(const Napi::Error &e) override { deferred_.Reject(e.Value()); }

	~SweepWorker() override { free(log_.buf); }

private:
	Napi::Promise::Deferred deferred_;
	const kf_harness *harness_;
	std::string dir_;
	std::vector<kf_step> steps_;
	size_t count_ = 0;
	int complete_ = 0;
	bool failed_ = false;
	kf_error error_{};
	kf_log log_{};
};

// Global random injection for a while (stress): a whole loop on one pool thread, like a sweep.
class StressWorker : public Napi::AsyncWorker {
public:
	StressWorker(Napi::Env env, const kf_harness *harness, std::string dir, long ms,
		     std::vector<std::string> paths)
		: Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)),
		  harness_(harness), dir_(std::move(dir)), ms_(ms), paths_(std::move(paths)) {}

	Napi::Promise Promise() { return deferred_.Promise(); }

	void Execute() override
	{
		std::vector<const char *> paths;
		for (const auto &p : paths_)
			paths.push_back(p.c_str());
		failed_ = kf_stress(harness_, dir_.c_str(), ms_, paths.data(), (int)paths.size(),
				    &out_, &error_) < 0;
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

// sweep(name: string, dir: string, maxSteps: number): Promise<SweepResult>
Napi::Value Sweep(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (info.Length() < 3 || !info[0].IsString() || !info[1].IsString() || !info[2].IsNumber())
		return Reject(env, Napi::TypeError::New(env, "sweep(name: string, dir: string, maxSteps: number)"));
	std::string name = info[0].As<Napi::String>();
	const kf_harness *h = kf_find_harness(name.c_str());
	if (!h)
		return Reject(env, Napi::Error::New(env, "unknown harness '" + name + "'"));
	int max_steps = info[2].As<Napi::Number>().Int32Value();
	if (max_steps < 1 || max_steps > 1000000)
		return Reject(env, Napi::RangeError::New(env, "maxSteps must be 1..1000000"));
	kf_error e{};
	if (!kf_in_guest(&e))
		return Reject(env, ErrnoError(env, e));
	auto *worker = new SweepWorker(env, h, info[1].As<Napi::String>(), max_steps);
	Napi::Promise promise = worker->Promise();
	worker->Queue();
	return promise;
}

// stress(name: string, dir: string, ms: number, probabilityPaths: string[]): Promise<StressResult>
Napi::Value Stress(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (info.Length() < 4 || !info[0].IsString() || !info[1].IsString() || !info[2].IsNumber() ||
	    !info[3].IsArray())
		return Reject(env, Napi::TypeError::New(env, "stress(name: string, dir: string, ms: number, probabilityPaths: string[])"));
	std::string name = info[0].As<Napi::String>();
	const kf_harness *h = kf_find_harness(name.c_str());
	if (!h)
		return Reject(env, Napi::Error::New(env, "unknown harness '" + name + "'"));
	Napi::Array arr = info[3].As<Napi::Array>();
	std::vector<std::string> paths;
	for (uint32_t i = 0; i < arr.Length(); i++)
		paths.push_back(arr.Get(i).As<Napi::String>());
	kf_error e{};
	if (!kf_in_guest(&e))
		return Reject(env, ErrnoError(env, e));
	auto *worker = new StressWorker(env, h, info[1].As<Napi::String>(),
					info[2].As<Napi::Number>().Int64Value(), std::move(paths));
	Napi::Promise promise = worker->Promise();
	worker->Queue();
	return promise;
}

Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	exports.Set("harnesses", Napi::Function::New(env, Harnesses));
	exports.Set("inGuest", Napi::Function::New(env, InGuest));
	exports.Set("sweep", Napi::Function::New(env, Sweep));
	exports.Set("stress", Napi::Function::New(env, Stress));
	return exports;
}

} // namespace

NODE_API_MODULE(kfault, Init)
