// cordon – picks the platform backend for this OS (lazily, so Linux never loads Win32 code and vice versa).
import { CordonError } from '../errors.js';
import type { WindowsOptions } from '../windows/plan.js';
import type { PlatformBackend } from './backend.js';

export interface BackendOptions {
  /** Windows only: sandbox mode and explicit opt-ins (see docs/windows.md). */
  windows?: WindowsOptions;
}

export async function selectBackend(platform: NodeJS.Platform = process.platform, options: BackendOptions = {}): Promise<PlatformBackend> {
  switch (platform) {
    case 'linux':
      return (await import('../linux/backend.js')).createLinuxBackend();
    case 'win32':
      return (await import('../windows/backend.js')).createWindowsBackend(options.windows);
    default:
      throw new CordonError('PLATFORM_UNSUPPORTED', `cordon has no sandbox backend for ${platform} (Linux and Windows are supported)`);
  }
}
