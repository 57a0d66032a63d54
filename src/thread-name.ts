import { writeFileSync } from 'node:fs';

/**
 * Names the calling thread as `top -H`, `ps -L` and `/proc/<pid>/task/<tid>/comm` show it, so an
 * operator (and bench/ingest.mjs) can tell the writer from the statistics thread. Linux keeps
 * 15 bytes; elsewhere, or without /proc, nothing happens.
 */
export function nameThread(name: string): void {
  try {
    writeFileSync('/proc/thread-self/comm', name.slice(0, 15));
  } catch {
    // Not Linux, or /proc not mounted: the name is a convenience only.
  }
}
