// cordon – memory for values native code keeps pointers into (attribute lists, WFP structs), freed together.
import type { Win32 } from './win32.js';

/** koffi.alloc'd memory that native code may keep pointers into until `free()`; freed together. */
export class Arena {
  private readonly blocks: unknown[] = [];
  constructor(private readonly w: Win32) {}
  alloc(type: unknown, count: number): unknown {
    const p = this.w.koffi.alloc(type as never, count);
    this.blocks.push(p);
    return p;
  }
  put(type: string | unknown, values: unknown[] | Uint8Array): unknown {
    const p = this.alloc(type, values.length);
    this.w.koffi.encode(p, 0, this.w.koffi.array(type as never, values.length), values);
    return p;
  }
  bytes(b: Buffer): unknown {
    return this.put('uint8', b);
  }
  free(): void {
    for (const p of this.blocks) this.w.koffi.free(p);
  }
  /** Address of a block, for pointer-valued unions (FWP_VALUE0) that koffi models as uint64. */
  address(p: unknown): bigint {
    return this.w.koffi.address(p as never);
  }
}
