// Host end of the guest's virtio console (hvc0) for kfault shell: QEMU connects to a unix
// socket the host listens on; the bytes are the guest terminal's, both ways.
import { createServer, type Server, type Socket } from 'node:net';

export class TerminalPort {
  private socket?: Socket;
  private waiters: Array<(s: Socket) => void> = [];

  private constructor(private readonly server: Server) {
    server.on('connection', (socket) => {
      if (this.socket) return socket.destroy();
      this.socket = socket;
      socket.on('error', () => {});
      for (const w of this.waiters.splice(0)) w(socket);
    });
  }

  static listen(path: string): Promise<TerminalPort> {
    return new Promise((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(path, () => resolve(new TerminalPort(server)));
    });
  }

  /** The connection from QEMU (made when QEMU starts, before the guest boots). */
  connected(timeoutMs: number): Promise<Socket> {
    if (this.socket) return Promise.resolve(this.socket);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`QEMU did not connect the shell's virtio console within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push((s) => {
        clearTimeout(timer);
        resolve(s);
      });
    });
  }

  close(): void {
    this.socket?.destroy();
    this.server.close();
  }
}
