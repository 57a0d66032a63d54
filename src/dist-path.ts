import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * The compiled location of a module, for Worker entry points. Under the test runner modules load
 * from `src/*.ts`, but a worker thread runs plain Node, so it always starts from `dist/`.
 */
export function compiledUrl(moduleUrl: string, relative: string): URL {
  const target = new URL(relative, moduleUrl);
  const file = fileURLToPath(target);
  const marker = '/src/';
  const index = file.lastIndexOf(marker);
  if (!moduleUrl.endsWith('.ts')) return pathToFileURL(file.replace(/\.ts$/, '.js'));
  if (index === -1) return target;

  const compiled = `${file.slice(0, index)}/dist/${file.slice(index + marker.length, -3)}.js`;

  return pathToFileURL(compiled);
}
