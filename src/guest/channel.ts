// Host end of the agent's virtio-serial port: QEMU connects to a unix socket the host listens on.
import { createServer, type Server, type Socket } from 'node:net';
import { boundedLines } from './bounded-lines.js';
import { AgentMessage, parseLine, Request, type Ready, type Reply, type StepEvent, type SweepDoneEvent } from '../protocol.js';
import { MAX_MESSAGE_BYTES } from '../protocol-limits.js';

type Pending = { resolve: (r: Reply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout; onEvent?: (e: StepEvent | SweepDoneEvent) => void; rearm: () => void };

export { MAX_MESSAGE_BYTES };

export class AgentChannel {
  private socket?: Socket;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readyWaiters: Array<(r: Ready) => void> = [];
  private ready?: Ready;
  private failure?: Error;
  private connectedWaiters: Array<() => void> = [];

  private constructor(private readonly server: Server) {
    server.on('connection', (socket) => {
      if (this.socket) return socket.destroy();
      this.socket = socket;
      for (const w of this.connectedWaiters.splice(0)) w();
      boundedLines(socket, {
        maxBytes: MAX_MESSAGE_BYTES,
        mode: 'fail',
        onLine: (line) => this.receive(line),
        onOverflow: (bytes) => {
          this.fail(Object.assign(new Error(`the guest agent sent a line of more than ${bytes} bytes without a newline; a message holds at most ${MAX_MESSAGE_BYTES}`), { code: 'KFAULT_PROTOCOL' }));
          socket.destroy();
        },
      });
      socket.on('close', () => this.fail(new Error('the agent channel closed')));
      socket.on('error', () => {});
    });
  }

  static listen(path: string): Promise<AgentChannel> {
    return new Promise((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(path, () => resolve(new AgentChannel(server)));
    });
  }

  private receive(line: string): void {
    let msg: AgentMessage;
    try {
      msg = parseLine(AgentMessage, line, 'message from guest agent');
    } catch (e) {
      // the agent and the host disagree: nothing after this line can be trusted (see Guest.call)
      return this.fail(Object.assign(e as Error, { code: 'KFAULT_PROTOCOL' }));
    }
    if (msg.type === 'ready') {
      this.ready = msg;
      for (const w of this.readyWaiters.splice(0)) w(msg);
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    if (msg.type === 'step' || msg.type === 'sweepDone') {
      p.rearm();
      p.onEvent?.(msg);
      return;
    }
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    p.resolve(msg);
  }

  /** Resolves once QEMU has connected (its socket's path is then no longer needed). */
  whenConnected(): Promise<void> {
    if (this.socket) return Promise.resolve();
    return new Promise((resolve) => this.connectedWaiters.push(resolve));
  }

  whenReady(): Promise<Ready> {
    if (this.ready) return Promise.resolve(this.ready);
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /**
   * Sends one request; rejects when the channel fails, or when timeoutMs pass without the
   * reply or an event of this request (each event restarts the clock).
   */
  request(body: Omit<Request, 'id'>, timeoutMs: number, onEvent?: (e: StepEvent | SweepDoneEvent) => void): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    if (!this.socket) return Promise.reject(new Error('the guest agent is not connected'));
    const id = this.nextId++;
    // The agent checks only a request's id and type (it loads no zod): the schema is checked here.
    const checked = Request.safeParse({ ...body, id });
    if (!checked.success) {
      const issues = checked.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
      return Promise.reject(Object.assign(new Error(`request ${body.type} to the guest agent: ${issues}`), { code: 'KFAULT_BAD_REQUEST' }));
    }
    const line = JSON.stringify({ ...body, id }) + '\n';
    return new Promise((resolve, reject) => {
      const expire = () => {
        this.pending.delete(id);
        reject(Object.assign(new Error(`request ${body.type} timed out: nothing from the guest in ${timeoutMs} ms`), { code: 'KFAULT_TIMEOUT' }));
      };
      const p: Pending = {
        resolve,
        reject,
        onEvent,
        timer: setTimeout(expire, timeoutMs),
        rearm: () => {
          clearTimeout(p.timer);
          p.timer = setTimeout(expire, timeoutMs);
        },
      };
      this.pending.set(id, p);
      this.socket!.write(line);
    });
  }

  fail(error: Error): void {
    this.failure ??= error;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(error);
      this.pending.delete(id);
    }
  }

  close(): void {
    this.fail(new Error('the agent channel was closed by the host'));
    this.socket?.destroy();
    this.server.close();
  }
}
