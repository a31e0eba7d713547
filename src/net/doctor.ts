// cordon – `cordon doctor` lines for allowlist networking (Linux).
import { existsSync } from 'node:fs';

import type { LayerReport } from '../platform/backend.js';
import { addonPath, loadNetAddon } from './addon.js';
import { brokerUnusableReason } from './plan.js';

/** What allowlist networking needs here: the supervisor addon, and conntrack for SO_ORIGINAL_DST. */
export function networkLayers(): LayerReport[] {
  let addon: LayerReport;
  if (!existsSync(addonPath())) {
    addon = { name: 'network allowlist: supervisor addon', available: false, detail: 'build/Release/cordon_net.node is not built: run `npm install` (needs g++, make, python3)', required: false };
  } else {
    try {
      loadNetAddon();
      addon = { name: 'network allowlist: supervisor addon', available: true, detail: 'fd passing (SCM_RIGHTS), SO_ORIGINAL_DST, zero-copy splice relay', required: false };
    } catch (err) {
      addon = { name: 'network allowlist: supervisor addon', available: false, detail: `cannot be loaded: ${(err as Error).message}`, required: false };
    }
  }
  const conntrack = existsSync('/proc/sys/net/netfilter') || existsSync('/sys/module/nf_conntrack');
  const brokerOff = brokerUnusableReason();
  return [
    {
      name: 'connect broker (unix-socket guard, relay-free allowlist)',
      available: brokerOff === '',
      detail:
        brokerOff === ''
          ? "pid 1 performs every connect(): unix sockets bound outside the sandbox are refused; allowed TCP is connected from the host"
          : `off (${brokerOff}): host unix sockets are refused only where a mask hides them, and allowlist traffic is relayed; each plan warns`,
      required: false,
    },
    addon,
    {
      name: 'network allowlist: capture',
      available: conntrack,
      detail: conntrack
        ? 'nftables nat redirect, local routes and listeners set up over netlink inside the sandbox netns (no nft binary, no host privileges); a launch that cannot set them up refuses to run'
        : 'netfilter conntrack not found (CONFIG_NF_CONNTRACK, CONFIG_NF_TABLES, CONFIG_NFT_REDIR): allowlist launches will fail closed',
      required: false,
    },
  ];
}
