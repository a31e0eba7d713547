// cordon – the audit log: one pino logger, one event per stage (exec.start, exec.end, exec.setup_failed, violation).
import pino, { type Logger } from 'pino';

export type AuditLogger = Logger;

export type AuditOption = AuditLogger | { file: string } | undefined;

/** Builds the audit logger: a pino instance the caller owns, a file (sync writes, never lost), or none. */
export function createAuditLogger(option: AuditOption): AuditLogger | undefined {
  if (!option) return undefined;
  if ('file' in option && typeof option.file === 'string') {
    return pino({ base: { app: 'cordon' }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: option.file, sync: true, mkdir: true }));
  }
  return option as AuditLogger;
}
