import type { IncomingMessage } from 'node:http';

import { isLightTrailError, RequestError } from '../errors.js';

/**
 * Reads a request body of at most `limitBytes`. Refuses with 413 ERR_PAYLOAD_TOO_LARGE when the
 * declared Content-Length or the running count passes the limit, keeping nothing beyond it: an
 * oversized or endless upload costs the server `limitBytes` of memory at most (C16 d). A body
 * without a declared length that passes the limit is read on into nothing to its end, for up to
 * `DRAIN_BYTES` more or `DRAIN_MS`, before the 413 goes: a connection closed while the client is
 * still sending is reset by the kernel as more arrives, and the reset can destroy the 413 unread
 * (QA: 7 of 15 chunked uploads of 10 MB saw no answer). Drained to its end, the body leaves the
 * connection usable; past those bounds the 413 goes at once and the app closes the connection.
 *
 * @example
 * const body = await readBody(ctx.req, config.collectMaxBody);
 */
export async function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  if (req.readableEnded || req.readableDidRead) {
    throw new Error('readBody: the request body was already read');
  }

  const declared = req.headers['content-length'];
  const sendContinue = continues.get(req);
  continues.delete(req);
  if (declared !== undefined && Number(declared) > limitBytes) {
    // Without a `100 Continue` the client never sends the body it announced: only the answer.
    if (sendContinue === undefined) discard(req);
    throw tooLarge(limitBytes);
  }

  sendContinue?.();

  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // Set once the body passed the limit: from then on it is only counted, for `DRAIN_MS` at most
    // even if it stops arriving.
    let overflowed: NodeJS.Timeout | undefined;

    const refuse = () => {
      cleanup();
      discard(req);
      reject(tooLarge(limitBytes));
    };

    const cleanup = () => {
      clearTimeout(overflowed);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onFailure);
      req.off('close', onClose);
    };

    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limitBytes) {
        chunks.push(chunk);
        return;
      }

      if (overflowed === undefined) {
        overflowed = setTimeout(refuse, DRAIN_MS);
        chunks.length = 0;
      }

      if (size - limitBytes > DRAIN_BYTES) refuse();
    };

    const onEnd = () => {
      cleanup();
      if (overflowed === undefined) resolve(Buffer.concat(chunks, size));
      else reject(tooLarge(limitBytes));
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

/** How much of an oversized body of unknown length is read on, unkept, before the 413. */
const DRAIN_BYTES = 16 * 1024 * 1024;
const DRAIN_MS = 2_000;

// Requests sent with `Expect: 100-continue`, and how to tell each client to send its body.
const continues = new WeakMap<IncomingMessage, () => void>();

/**
 * Holds back the `100 Continue` a request asks for until a handler reads its body (RFC 9110
 * 10.1.1): a body refused on its headers (too large, a wrong type) is then never sent, and the
 * client reads the refusal instead of writing into a closed connection (fresh-clone QA).
 *
 * @example
 * server.on('checkContinue', (req, res) => {
 *   continueWhenRead(req, () => res.writeContinue());
 *   listener(req, res);
 * });
 */
export function continueWhenRead(req: IncomingMessage, send: () => void): void {
  continues.set(req, send);
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
