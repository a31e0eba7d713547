// cordon – collects a stream up to a byte cap, exactly; reports when the cap is crossed.
import type { Readable } from 'node:stream';

export class CappedCapture {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  truncated = false;

  constructor(
    private readonly cap: number,
    private readonly onOverflow: () => void,
  ) {}

  attach(stream: Readable): void {
    stream.on('data', (chunk: Buffer) => this.push(chunk));
  }

  push(chunk: Buffer): void {
    if (this.truncated) return;
    const room = this.cap - this.size;
    if (chunk.length > room) {
      if (room > 0) this.chunks.push(chunk.subarray(0, room));
      this.size = this.cap;
      this.truncated = true;
      this.onOverflow();
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }
}
