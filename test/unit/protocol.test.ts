import { describe, expect, it } from 'vitest';
import { AgentMessage, parseLine, Request, StepEvent } from '../../src/protocol.js';

describe('protocol', () => {
  it('accepts a sweep request', () => {
    const line = '{"id":3,"type":"sweep","harness":"pipe2","library":null,"arg":"","first":4,"maxSteps":10,"skip":[6],"random":false,"faults":{"failslab":{"require":"alloc_pipe_info"}},"kmemleakText":{"anchor":"__create_object","start":-3581,"end":3571},"kmemleakTextWhy":""}';
    expect(parseLine(Request, line, 'req')).toEqual({
      id: 3, type: 'sweep', harness: 'pipe2', library: null, arg: '', first: 4, maxSteps: 10, skip: [6], random: false, faults: { failslab: { require: 'alloc_pipe_info' } }, kmemleakText: { anchor: '__create_object', start: -3581, end: 3571 }, kmemleakTextWhy: '',
    });
  });

  it('names the field that is wrong', () => {
    expect(() => parseLine(Request, '{"id":3,"type":"sweep","harness":"pipe2","library":null,"arg":"","first":1,"maxSteps":0,"skip":[],"random":false,"faults":{},"kmemleakText":null,"kmemleakTextWhy":"off"}', 'request from host')).toThrow(
      'request from host: maxSteps: Too small: expected number to be >=1',
    );
  });

  it('rejects unknown request types and stray fields', () => {
    expect(() => parseLine(Request, '{"id":1,"type":"reboot"}', 'req')).toThrow(/^req: type: Invalid discriminator value\. Expected '[a-zA-Z]+'( \| '[a-zA-Z]+')*: \{"id":1,"type":"reboot"\}$/);
    expect(() => parseLine(Request, '{"id":1,"type":"harnesses","x":1}', 'req')).toThrow('req: (root): Unrecognized key: "x"');
  });

  it('rejects a line that is not JSON', () => {
    expect(() => parseLine(AgentMessage, '[    5.1] random console noise', 'message from guest agent')).toThrow('message from guest agent: not JSON');
  });

  it('accepts a step event, and refuses one without the sweep thread id', () => {
    const step = { nth: 3, ret: -12, errno: 'ENOMEM', injected: true, tid: 62, signal: null, ns: 1000, kmsg: '', fault: null };
    expect(parseLine(AgentMessage, JSON.stringify({ type: 'step', id: 4, step }), 'm')).toEqual({ type: 'step', id: 4, step: { ...step, trace: '' } });
    const { tid: _, ...noTid } = step;
    expect(() => parseLine(StepEvent, JSON.stringify({ type: 'step', id: 4, step: noTid }), 'm')).toThrow('m: step.tid: Invalid input: expected number, received undefined');
  });

  it('accepts a sweeps request, and says which target is wrong', () => {
    const t = { harness: 'pipe2', library: null, arg: '', skip: [] };
    const req = { id: 5, type: 'sweeps', targets: [t, { ...t, harness: 'open', skip: [2] }], maxSteps: 10, random: false, faults: {}, kmemleakText: null, kmemleakTextWhy: 'off' };
    expect(parseLine(Request, JSON.stringify(req), 'req')).toEqual(req);
    expect(() => parseLine(Request, JSON.stringify({ ...req, targets: [t, { ...t, skip: [0] }] }), 'req')).toThrow('req: targets.1.skip.0: Too small: expected number to be >0');
    expect(() => parseLine(Request, JSON.stringify({ ...req, targets: [] }), 'req')).toThrow(/^req: targets: Too small/);
  });

  it("accepts a batch's step event with its target's index, and its sweepDone event", () => {
    const step = { nth: 1, ret: 0, errno: null, injected: false, tid: 70, signal: null, ns: 5, kmsg: '', fault: null, trace: '' };
    expect(parseLine(AgentMessage, JSON.stringify({ type: 'step', id: 5, index: 1, step }), 'm')).toEqual({ type: 'step', id: 5, index: 1, step });
    const done = { complete: true, kmemleakFilter: { kmemleakOn: true, kernelKeepsOut: false, applied: true, note: 'on' }, refillFilter: '' };
    expect(parseLine(AgentMessage, JSON.stringify({ type: 'sweepDone', id: 5, index: 1, done, ms: 12.5 }), 'm')).toEqual({ type: 'sweepDone', id: 5, index: 1, done, ms: 12.5 });
    expect(() => parseLine(AgentMessage, JSON.stringify({ type: 'sweepDone', id: 5, done, ms: 1 }), 'm')).toThrow(/^m: /);
  });

  it('accepts an error reply', () => {
    const line = '{"type":"reply","id":1,"ok":false,"error":{"code":"ENOENT","message":"no","errno":-2}}';
    expect(parseLine(AgentMessage, line, 'm')).toMatchObject({ ok: false, error: { code: 'ENOENT' } });
  });
});
