// cordon – picks the platform backend for this OS (lazily, so Linux never loads Win32 code and vice versa).
import { CordonError } from '../errors.js';
import type { PlatformBackend } from './backend.js';

export async function selectBackend(platform: NodeJS.Platform = process.platform): Promise<PlatformBackend> {
  switch (platform) {
    case 'linux':
      return (await import('../linux/backend.js')).createLinuxBackend();
    case 'win32': {
      // TODO(windows backend): literal specifier once src/windows/backend.ts lands.
      const windows = '../windows/backend.js';
      const mod = (await import(windows)) as { createWindowsBackend(): PlatformBackend };
      return mod.createWindowsBackend();
    }
    default:
      throw new CordonError('PLATFORM_UNSUPPORTED', `cordon has no sandbox backend for ${platform} (Linux and Windows are supported)`);
  }
}
