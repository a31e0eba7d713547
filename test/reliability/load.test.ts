// cordon tests – load: sequential and concurrent execs through one Sandbox leave no fds, child
// processes, zombies, mounts, cgroup directories or temp files behind, and memory stays flat.
// Same code as `bench/load.mjs` (run there with 1,000 / 64); smaller counts here to stay fast.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { loadBench } from './helpers.js';

describe('load', () => {
  it('200 sequential and 32 concurrent execs: nothing leaks, memory flat', async (t) => {
    const { runLoadBench } = await loadBench();
    const { results: r, markdown } = await runLoadBench({ sequential: 200, concurrent: 32, warmup: 30 });
    t.diagnostic('\n' + markdown);
    assert.deepEqual(r.failures, []);
    assert.equal(r.fds.after, r.fds.before, 'no fd leaked');
    assert.deepEqual(r.children.after, [], 'no launcher or zombie left');
    assert.equal(r.mountsChanged, false, 'the host mount table is unchanged');
    assert.deepEqual(r.cgroups.after, [], 'no cgroup directory left');
    assert.deepEqual(r.newTmpEntries, [], 'no temp files left');
    // RSS reaches a plateau (allocator arenas) within the first few hundred runs; a leak of even
    // 100 KiB per exec would pass 40 MiB over these 232. The JS heap must stay flat.
    assert.ok(r.rssMB.after - r.rssMB.before < 40, `RSS ${r.rssMB.before.toFixed(1)} → ${r.rssMB.after.toFixed(1)} MB`);
    assert.ok(r.heapMB.after - r.heapMB.before < 4, `heap ${r.heapMB.before.toFixed(1)} → ${r.heapMB.after.toFixed(1)} MB`);
  });
});
