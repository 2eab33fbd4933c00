// Host end of the agent's virtio-serial port: QEMU connects to a unix socket the host listens on.
import { createServer, type Server, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { AgentMessage, parseLine, type Ready, type Reply, type Request } from '../protocol.js';

type Pending = { resolve: (r: Reply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

export class AgentChannel {
  private socket?: Socket;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readyWaiters: Array<(r: Ready) => void> = [];
  private ready?: Ready;
  private failure?: Error;

  private constructor(private readonly server: Server) {
    server.on('connection', (socket) => {
      if (this.socket) return socket.destroy();
      this.socket = socket;
      createInterface({ input: socket }).on('line', (line) => this.receive(line));
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
      return this.fail(e as Error);
    }
    if (msg.type === 'ready') {
      this.ready = msg;
      for (const w of this.readyWaiters.splice(0)) w(msg);
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    p.resolve(msg);
  }

  whenReady(): Promise<Ready> {
    if (this.ready) return Promise.resolve(this.ready);
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /** Sends one request; rejects on timeout or when the channel fails. */
  request(body: Omit<Request, 'id'>, timeoutMs: number): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    if (!this.socket) return Promise.reject(new Error('the guest agent is not connected'));
    const id = this.nextId++;
    const line = JSON.stringify({ ...body, id }) + '\n';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`request ${body.type} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
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
