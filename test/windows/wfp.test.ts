// cordon tests – WFP GUIDs (mingw-w64 lacks them: checked against windows-sys) and the filter plan.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { WFP_FLAGS } from '../../dist/windows/consts.js';
import { CORDON_PROVIDER_KEY, CORDON_SUBLAYER_KEY, derivedGuid, parseGuid, WFP_GUIDS } from '../../dist/windows/guids.js';
import { planFilters } from '../../dist/windows/wfp.js';

/**
 * Transcribed from windows-sys (Win32::NetworkManagement::WindowsFilteringPlatform, generated from
 * Microsoft's win32metadata) as `GUID::from_u128(0x…)`. Public code has been seen with wrong values
 * (0x5A903A65…, 0xaf7910cb…, 0x4cd62641…), which is why this table exists.
 */
const WINDOWS_SYS: Record<string, bigint> = {
  FWPM_LAYER_ALE_AUTH_CONNECT_V4: 0xc38d57d1_05a7_4c33_904f_7fbceee60e82n,
  FWPM_LAYER_ALE_AUTH_CONNECT_V6: 0x4a72393b_319f_44bc_84c3_ba54dcb3b6b4n,
  FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V4: 0xe1cd9fe7_f4b5_4273_96c0_592e487b8650n,
  FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V6: 0xa3b42c97_9f04_4672_b87e_cee9c483257fn,
  FWPM_CONDITION_ALE_PACKAGE_ID: 0x71bc78fa_f17c_4997_a602_6abb261f351cn,
  FWPM_CONDITION_IP_REMOTE_ADDRESS: 0xb235ae9a_1d64_49b8_a44c_5ff3d9095045n,
  FWPM_CONDITION_IP_REMOTE_PORT: 0xc35a604d_d22b_4e1a_91b4_68f674ee674bn,
};

const asU128 = (g: string) => BigInt('0x' + g.replace(/-/g, ''));

describe('windows WFP GUIDs', () => {
  it('every layer and condition GUID cordon uses equals windows-sys', () => {
    assert.deepEqual(Object.keys(WFP_GUIDS).sort(), Object.keys(WINDOWS_SYS).sort());
    for (const [name, g] of Object.entries(WFP_GUIDS)) assert.equal(asU128(g), WINDOWS_SYS[name], name);
  });

  it('known-wrong public values are not used', () => {
    const all = Object.values(WFP_GUIDS).join(' ');
    for (const bad of ['5a903a65', 'af7910cb', '4cd62641']) assert.ok(!all.includes(bad), bad);
  });

  it('parses into DEFINE_GUID order (Data1, Data2, Data3, Data4 bytes)', () => {
    assert.deepEqual(parseGuid(WFP_GUIDS.FWPM_LAYER_ALE_AUTH_CONNECT_V4), {
      Data1: 0xc38d57d1, Data2: 0x05a7, Data3: 0x4c33, Data4: [0x90, 0x4f, 0x7f, 0xbc, 0xee, 0xe6, 0x0e, 0x82],
    });
    assert.throws(() => parseGuid('nope'));
  });

  it('cordon keys are valid, distinct, and derived keys are stable RFC 4122 v5-style', () => {
    assert.notEqual(CORDON_PROVIDER_KEY, CORDON_SUBLAYER_KEY);
    parseGuid(CORDON_PROVIDER_KEY);
    const k = derivedGuid('a', 'b');
    assert.equal(k, derivedGuid('a', 'b'));
    assert.notEqual(k, derivedGuid('a', 'c'));
    assert.match(k, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('flags mingw lacks have the SDK values', () => {
    assert.deepEqual(WFP_FLAGS, {
      FWPM_SESSION_FLAG_DYNAMIC: 1, FWPM_PROVIDER_FLAG_PERSISTENT: 1, FWPM_SUBLAYER_FLAG_PERSISTENT: 1,
      FWPM_FILTER_FLAG_PERSISTENT: 1, FWPM_FILTER_FLAG_CLEAR_ACTION_RIGHT: 8,
    });
  });
});

describe('windows WFP filter plan', () => {
  const sid = 'S-1-15-2-1-2-3-4-5-6-7';
  const filters = planFilters([sid], [47000, 47009]);

  it('blocks the AppContainer on both connect layers and permits only 127.0.0.1:proxy on IPv4', () => {
    assert.deepEqual(filters.map((f) => [f.layer, f.action, f.weight]), [
      ['FWPM_LAYER_ALE_AUTH_CONNECT_V4', 'block', 1],
      ['FWPM_LAYER_ALE_AUTH_CONNECT_V4', 'permit', 15],
      ['FWPM_LAYER_ALE_AUTH_CONNECT_V6', 'block', 1],
    ]);
    assert.deepEqual(filters[1]!.conditions, [
      { field: 'FWPM_CONDITION_ALE_PACKAGE_ID', sid },
      { field: 'FWPM_CONDITION_IP_REMOTE_ADDRESS', ipv4: '127.0.0.1' },
      { field: 'FWPM_CONDITION_IP_REMOTE_PORT', range: [47000, 47009] },
    ]);
    for (const f of filters) assert.deepEqual(f.conditions[0], { field: 'FWPM_CONDITION_ALE_PACKAGE_ID', sid }, 'every filter is scoped to the sandbox');
  });

  it('filter keys are stable per SID (teardown recomputes them) and distinct', () => {
    assert.deepEqual(planFilters([sid], [1, 2]).map((f) => f.key), filters.map((f) => f.key));
    assert.equal(new Set(planFilters([sid, 'S-1-15-2-9'], [1, 2]).map((f) => f.key)).size, 6);
  });
});
