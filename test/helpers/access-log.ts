/** A desktop Chrome user agent, as an access log records it: a visitor, not a bot. */
export const LOG_BROWSER_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 ' +
  'Safari/537.36';

/**
 * One successful GET in the Apache combined format. The address is a documentation one unless
 * given: the import counts each line from a non-public address as its own visitor.
 */
export function combinedLine(
  target: string,
  time = '04/Dec/2026:10:00:00 +0000',
  address = '198.51.100.7',
): string {
  return `${address} - - [${time}] "GET ${target} HTTP/1.1" 200 512 "-" "${LOG_BROWSER_UA}"`;
}
