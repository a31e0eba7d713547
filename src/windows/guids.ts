// cordon – WFP GUIDs (layers, conditions: missing from mingw-w64, checked against windows-sys) and cordon's own keys.
import { createHash } from 'node:crypto';

export const WFP_GUIDS = {
  FWPM_LAYER_ALE_AUTH_CONNECT_V4: 'c38d57d1-05a7-4c33-904f-7fbceee60e82',
  FWPM_LAYER_ALE_AUTH_CONNECT_V6: '4a72393b-319f-44bc-84c3-ba54dcb3b6b4',
  FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V4: 'e1cd9fe7-f4b5-4273-96c0-592e487b8650',
  FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V6: 'a3b42c97-9f04-4672-b87e-cee9c483257f',
  FWPM_CONDITION_ALE_PACKAGE_ID: '71bc78fa-f17c-4997-a602-6abb261f351c',
  FWPM_CONDITION_IP_REMOTE_ADDRESS: 'b235ae9a-1d64-49b8-a44c-5ff3d9095045',
  FWPM_CONDITION_IP_REMOTE_PORT: 'c35a604d-d22b-4e1a-91b4-68f674ee674b',
} as const;

/** cordon's persistent WFP provider and sublayer (fixed: teardown finds them by key). */
export const CORDON_PROVIDER_KEY = '6f0c4d1e-3b7a-4c52-9e8d-2a51c0d7b3f4';
export const CORDON_SUBLAYER_KEY = '9a2e7c64-51d8-4f0b-8c3e-7d14b6a5e902';

export interface GuidFields {
  Data1: number;
  Data2: number;
  Data3: number;
  Data4: number[];
}

/** `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` → GUID struct fields (Data1..3 little-endian integers, Data4 bytes). */
export function parseGuid(s: string): GuidFields {
  const m = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i.exec(s);
  if (!m) throw new Error(`not a GUID: ${s}`);
  const tail = Buffer.from(m[4]! + m[5]!, 'hex');
  return { Data1: parseInt(m[1]!, 16), Data2: parseInt(m[2]!, 16), Data3: parseInt(m[3]!, 16), Data4: [...tail] };
}

/** A stable GUID (version 5 style bits) derived from `parts`, for filter keys teardown can recompute. */
export function derivedGuid(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\0')).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}
