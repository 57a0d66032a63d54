import type { IncomingMessage } from 'node:http';

import { isLightTrailError, RequestError } from '../errors.js';

/**
 * Reads a request body of at most `limitBytes`. Refuses with 413 ERR_PAYLOAD_TOO_LARGE as soon as
 * the declared Content-Length or the running count passes the limit, keeping nothing beyond it:
 * an oversized or endless upload costs the server `limitBytes` of memory at most (C16 d). The
 * rest of the body is drained unread so the client, still sending, can read the 413; the app
 * closes the connection after that answer.
 *
 * @example
 * const body = await readBody(ctx.req, config.collectMaxBody);
 */
export async function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  if (req.readableEnded || req.readableDidRead) {
    throw new Error('readBody: the request body was already read');
  }

  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limitBytes) {
    discard(req);
    throw tooLarge(limitBytes);
  }

  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;

    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onFailure);
      req.off('close', onClose);
    };

    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        cleanup();
        discard(req);
        reject(tooLarge(limitBytes));
        return;
      }

      chunks.push(chunk);
    };

    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };

    // A refusal the server already sent (a 408 at the request timeout) is passed on as is, so
    // the handler sees why; anything else is a body that stopped arriving.
    const onFailure = (cause: unknown) => {
      cleanup();
      reject(
        isLightTrailError(cause)
          ? cause
          : new RequestError('ERR_BAD_REQUEST', 400, 'the request body was not received', cause),
      );
    };

    const onClose = () => {
      if (!req.complete) onFailure(undefined);
    };

    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onFailure);
    req.on('close', onClose);
  });
}

/** Keeps the bytes flowing into nothing; a read error after the refusal is no longer ours. */
function discard(req: IncomingMessage): void {
  req.on('error', () => undefined);
  req.resume();
}

function tooLarge(limitBytes: number): RequestError {
  return new RequestError(
    'ERR_PAYLOAD_TOO_LARGE',
    413,
    `the request body is larger than ${limitBytes} bytes`,
  );
}
