// cordon – writes the plan and the command into a launcher's status socket without losing its records.
//
// The status socket carries both ways: Node writes the plan and the command, the launcher writes its
// records (SETUP, STARTED, EXIT …). A launcher whose setup fails exits at once, often before Node has
// written the command (always so for a sandbox built ahead, which gets it much later). That write
// then fails with EPIPE, and a net.Socket destroys itself on a write error, dropping the records
// still unread in its receive queue: the caller saw "launcher exited with 125" instead of the reason.
// So nothing is written through the socket that reads: a plain write(2) first (the whole message,
// nearly always), and what does not fit goes through a socket of its own on a copy of the fd, whose
// errors are its own.
import { writeSync } from 'node:fs';
import net from 'node:net';

/** The fd behind a libuv pipe/socket; -1 once it is closed (or if there is none). */
export function fdOfStream(stream: unknown): number {
  const fd = (stream as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' ? fd : -1;
}

export class StatusWriter {
  /** For what did not fit at once: a write-only socket on a dup of the status fd. */
  private rest: net.Socket | undefined;
  /** Whether `rest` is that copy (else it is `status`, and not ours to destroy). */
  private restOwned = false;
  private gone = false;

  /** `dup` copies an fd (the addon's); without it, leftovers go through `status` itself. */
  constructor(
    private readonly status: net.Socket,
    private readonly dup?: (fd: number) => number,
  ) {}

  write(data: Buffer): void {
    if (this.gone) return;
    let left = data;
    if (!this.rest || this.rest.writableLength === 0) {
      // Read at each write: once the reading socket has closed, its fd number may be someone else's.
      const fd = fdOfStream(this.status);
      if (fd < 0) {
        this.gone = true; // the launcher's end is closed: nobody will read this
        return;
      }
      try {
        left = data.subarray(writeSync(fd, data));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EPIPE' || code === 'ECONNRESET') {
          this.gone = true; // the launcher is gone; its records are still there to read
          return;
        }
        if (code !== 'EAGAIN') throw err;
      }
      if (left.length === 0) return;
    }
    this.leftovers()?.write(left);
  }

  /** No more from us: the launcher reads EOF (after anything still queued). */
  end(): void {
    if (this.rest) this.rest.end();
    else if (!this.status.destroyed) this.status.end();
  }

  /** Closes the copy (the launch is over). */
  destroy(): void {
    if (this.restOwned) this.rest?.destroy();
  }

  private leftovers(): net.Socket | undefined {
    if (this.rest) return this.rest;
    const fd = fdOfStream(this.status);
    if (fd < 0) return undefined;
    if (!this.dup) return (this.rest = this.status);
    this.rest = new net.Socket({ fd: this.dup(fd), readable: false, writable: true });
    this.restOwned = true;
    this.rest.on('error', () => {
      this.gone = true; // EPIPE: the launcher stopped reading; the records are still readable
    });
    return this.rest;
  }
}
