// cordon – persistent WFP filters: an AppContainer may connect only to cordon's proxy ports on 127.0.0.1.
//
// `planFilters` is pure (unit-tested): per AppContainer SID and per connect layer, a low-weight BLOCK of
// everything and, on IPv4, a high-weight PERMIT of 127.0.0.1:<proxy ports>. `installFilters` and
// `removeFilters` need an elevated caller (the BFE grants FwpmFilterAdd0 to Administrators only) and run
// in one transaction, so a failure leaves nothing half-installed.
import { Arena } from './arena.js';
import { C, WFP_FLAGS } from './consts.js';
import { CORDON_PROVIDER_KEY, CORDON_SUBLAYER_KEY, derivedGuid, parseGuid, WFP_GUIDS } from './guids.js';
import { sidToBytes } from './sid.js';
import { optional, Win32Error, wide, type Win32 } from './win32.js';

export type FilterCondition =
  | { field: 'FWPM_CONDITION_ALE_PACKAGE_ID'; sid: string }
  | { field: 'FWPM_CONDITION_IP_REMOTE_ADDRESS'; ipv4: string }
  | { field: 'FWPM_CONDITION_IP_REMOTE_PORT'; range: [number, number] };

export interface FilterSpec {
  key: string;
  name: string;
  layer: 'FWPM_LAYER_ALE_AUTH_CONNECT_V4' | 'FWPM_LAYER_ALE_AUTH_CONNECT_V6';
  action: 'block' | 'permit';
  weight: number;
  conditions: FilterCondition[];
}

export function planFilters(sids: readonly string[], ports: [number, number]): FilterSpec[] {
  const out: FilterSpec[] = [];
  for (const sid of sids) {
    for (const layer of ['FWPM_LAYER_ALE_AUTH_CONNECT_V4', 'FWPM_LAYER_ALE_AUTH_CONNECT_V6'] as const) {
      const v = layer.endsWith('V4') ? 'v4' : 'v6';
      out.push({ key: derivedGuid('cordon', sid, layer, 'block'), name: `cordon: block ${sid} (${v})`, layer, action: 'block', weight: 1,
        conditions: [{ field: 'FWPM_CONDITION_ALE_PACKAGE_ID', sid }] });
      if (v === 'v4') {
        out.push({ key: derivedGuid('cordon', sid, layer, 'permit-proxy'), name: `cordon: ${sid} to proxy ${ports.join('-')}`, layer, action: 'permit', weight: 15,
          conditions: [
            { field: 'FWPM_CONDITION_ALE_PACKAGE_ID', sid },
            { field: 'FWPM_CONDITION_IP_REMOTE_ADDRESS', ipv4: '127.0.0.1' },
            { field: 'FWPM_CONDITION_IP_REMOTE_PORT', range: ports },
          ] });
      }
    }
  }
  return out;
}

const FWPUCLNT = [
  'uint32 __stdcall FwpmEngineOpen0(const char16_t *server, uint32 authn, void *identity, FWPM_SESSION0 *session, _Out_ void **engine)',
  'uint32 __stdcall FwpmEngineClose0(void *engine)',
  'uint32 __stdcall FwpmTransactionBegin0(void *engine, uint32 flags)',
  'uint32 __stdcall FwpmTransactionCommit0(void *engine)',
  'uint32 __stdcall FwpmTransactionAbort0(void *engine)',
  'uint32 __stdcall FwpmProviderAdd0(void *engine, FWPM_PROVIDER0 *provider, void *sd)',
  'uint32 __stdcall FwpmProviderDeleteByKey0(void *engine, GUID *key)',
  'uint32 __stdcall FwpmSubLayerAdd0(void *engine, FWPM_SUBLAYER0 *sublayer, void *sd)',
  'uint32 __stdcall FwpmSubLayerDeleteByKey0(void *engine, GUID *key)',
  'uint32 __stdcall FwpmFilterAdd0(void *engine, FWPM_FILTER0 *filter, void *sd, _Out_ uint64 *id)',
  'uint32 __stdcall FwpmFilterDeleteByKey0(void *engine, GUID *key)',
] as const;

const FWP_E_ALREADY_EXISTS = 0x80320009;
const FWP_E_NOT_FOUND = [0x80320005, 0x80320007, 0x80320003]; // provider, sublayer, filter not found

const display = (name: string) => ({ name: wide(name), description: null });
const noBlob = { size: 0, data: null };

function conditionValue(arena: Arena, w: Win32, c: FilterCondition) {
  if ('sid' in c) return { type: C.FWP_SID, uint64: arena.address(arena.bytes(sidToBytes(c.sid))) };
  if ('ipv4' in c) return { type: C.FWP_UINT32, uint64: c.ipv4.split('.').reduce((a, o) => a * 256 + Number(o), 0) };
  const range = arena.put(w.t.FWP_RANGE0, [{ valueLow: { type: C.FWP_UINT16, uint64: c.range[0] }, valueHigh: { type: C.FWP_UINT16, uint64: c.range[1] } }]);
  return { type: C.FWP_RANGE_TYPE, uint64: arena.address(range) };
}

function filterStruct(arena: Arena, w: Win32, f: FilterSpec, providerKey: unknown) {
  const conds = f.conditions.map((c) => ({
    fieldKey: parseGuid(WFP_GUIDS[c.field]),
    matchType: 'range' in c ? C.FWP_MATCH_RANGE : C.FWP_MATCH_EQUAL,
    conditionValue: conditionValue(arena, w, c),
  }));
  return {
    filterKey: parseGuid(f.key), displayData: display(f.name), flags: WFP_FLAGS.FWPM_FILTER_FLAG_PERSISTENT,
    providerKey, providerData: noBlob, layerKey: parseGuid(WFP_GUIDS[f.layer]), subLayerKey: parseGuid(CORDON_SUBLAYER_KEY),
    weight: { type: C.FWP_UINT8, uint64: f.weight }, numFilterConditions: conds.length,
    filterCondition: arena.put(w.t.FWPM_FILTER_CONDITION0, conds),
    action: { type: f.action === 'block' ? C.FWP_ACTION_BLOCK : C.FWP_ACTION_PERMIT, filterType: parseGuid('00000000-0000-0000-0000-000000000000') },
    providerContextKey: parseGuid('00000000-0000-0000-0000-000000000000'), reserved: null, filterId: 0,
    effectiveWeight: { type: C.FWP_EMPTY, uint64: 0 },
  };
}

function withEngine(w: Win32, body: (api: Record<string, any>, engine: unknown, arena: Arena) => void): void {
  const api = optional(w.koffi, 'fwpuclnt.dll', FWPUCLNT);
  if (typeof api === 'string') throw new Win32Error('FwpmEngineOpen0', 127, `(${api})`);
  const engine = [null];
  const session = { sessionKey: parseGuid('00000000-0000-0000-0000-000000000000'), displayData: display('cordon setup'), flags: 0,
    txnWaitTimeoutInMSec: 0, processId: 0, sid: null, username: null, kernelMode: 0 };
  const rc = api.FwpmEngineOpen0!(null, C.RPC_C_AUTHN_WINNT, null, session, engine) as number;
  if (rc !== 0) throw new Win32Error('FwpmEngineOpen0', rc);
  const arena = new Arena(w);
  try {
    const begin = api.FwpmTransactionBegin0!(engine[0], 0) as number;
    if (begin !== 0) throw new Win32Error('FwpmTransactionBegin0', begin);
    try {
      body(api, engine[0], arena);
      const commit = api.FwpmTransactionCommit0!(engine[0]) as number;
      if (commit !== 0) throw new Win32Error('FwpmTransactionCommit0', commit);
    } catch (e) {
      api.FwpmTransactionAbort0!(engine[0]);
      throw e;
    }
  } finally {
    arena.free();
    api.FwpmEngineClose0!(engine[0]);
  }
}

function ok(fn: string, rc: number, tolerated: readonly number[] = []): void {
  if (rc !== 0 && !tolerated.includes(rc >>> 0)) throw new Win32Error(fn, rc);
}

export function installFilters(w: Win32, filters: readonly FilterSpec[]): void {
  withEngine(w, (api, engine, arena) => {
    const providerKey = arena.put(w.t.GUID, [parseGuid(CORDON_PROVIDER_KEY)]);
    ok('FwpmProviderAdd0', api.FwpmProviderAdd0(engine, { providerKey: parseGuid(CORDON_PROVIDER_KEY), displayData: display('cordon'),
      flags: WFP_FLAGS.FWPM_PROVIDER_FLAG_PERSISTENT, providerData: noBlob, serviceName: null }, null), [FWP_E_ALREADY_EXISTS]);
    ok('FwpmSubLayerAdd0', api.FwpmSubLayerAdd0(engine, { subLayerKey: parseGuid(CORDON_SUBLAYER_KEY), displayData: display('cordon sandbox network'),
      flags: WFP_FLAGS.FWPM_SUBLAYER_FLAG_PERSISTENT, providerKey, providerData: noBlob, weight: 0x8000 }, null), [FWP_E_ALREADY_EXISTS]);
    for (const f of filters) {
      ok('FwpmFilterDeleteByKey0', api.FwpmFilterDeleteByKey0(engine, parseGuid(f.key)), FWP_E_NOT_FOUND);
      ok(`FwpmFilterAdd0(${f.name})`, api.FwpmFilterAdd0(engine, filterStruct(arena, w, f, providerKey), null, [0]));
    }
  });
}

export function removeFilters(w: Win32, filters: readonly FilterSpec[]): void {
  withEngine(w, (api, engine) => {
    for (const f of filters) ok('FwpmFilterDeleteByKey0', api.FwpmFilterDeleteByKey0(engine, parseGuid(f.key)), FWP_E_NOT_FOUND);
    ok('FwpmSubLayerDeleteByKey0', api.FwpmSubLayerDeleteByKey0(engine, parseGuid(CORDON_SUBLAYER_KEY)), FWP_E_NOT_FOUND);
    ok('FwpmProviderDeleteByKey0', api.FwpmProviderDeleteByKey0(engine, parseGuid(CORDON_PROVIDER_KEY)), FWP_E_NOT_FOUND);
  });
}
