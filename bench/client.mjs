// The load generator's HTTP client: one keep-alive HTTPS/1.1 connection with one request in
// flight, the request written as ready-made bytes and the answer read only as far as its status
// and the end of its body. node:https's client, with an Agent, took more CPU per request (50 to 60
// µs here) than the bare server it measured (about 27), so on a 2-CPU machine the bare server's
// throughput was the load generator's and both servers shared their CPUs with it: this client
// takes about 15 µs, as a dedicated load tool (wrk, h2load) keeps the generator out of the
// measurement.
import { connect } from 'node:tls';

const HEAD_END = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');
/** answerEnd's value for a chunk size that is not hexadecimal. */
const UNREADABLE = -2;

/** The status when the connection failed or closed before an answer: counted, not a 2xx. */
export const NO_ANSWER = 0;

/**
 * A connection to one server. `send` opens it (again) when needed and resolves with the answer's
 * status, or NO_ANSWER.
 *
 * @example
 * const connection = new Connection({ host: '127.0.0.1', port, ca, servername: 'localhost' });
 * const status = await connection.send(requestBytes);
 */
export class Connection {
  #options;
  #socket = null;
  #opening = null;
  #buffered = null;
  #answer = null;

  constructor({ host, port, ca, servername }) {
    this.#options = { host, port, ca, servername };
  }

  /** Resolves true once the TLS handshake is done (the certificate verified against `ca`). */
  open() {
    if (this.#opening !== null) return this.#opening;

    this.#opening = new Promise((resolve) => {
      const socket = connect(this.#options, () => resolve(true));
      socket.setNoDelay(true);
      socket.on('data', (chunk) => this.#read(chunk));
      // The failure shows as NO_ANSWER through 'close'.
      socket.on('error', () => undefined);
      socket.on('close', () => {
        resolve(false);
        // A socket this side closed was forgotten then; its successor may be waiting already.
        if (this.#socket !== socket) return;

        this.#forget();
        this.#settle(NO_ANSWER);
      });
      this.#socket = socket;
    });

    return this.#opening;
  }

  async send(bytes) {
    if (!(await this.open()) || this.#socket === null) return NO_ANSWER;

    return new Promise((resolve) => {
      this.#answer = resolve;
      this.#socket.write(bytes);
    });
  }

  close() {
    const socket = this.#socket;
    this.#forget();
    socket?.destroy();
  }

  #forget() {
    this.#socket = null;
    this.#opening = null;
    this.#buffered = null;
  }

  #settle(status) {
    const answer = this.#answer;
    this.#answer = null;
    answer?.(status);
  }

  #read(chunk) {
    const data = this.#buffered === null ? chunk : Buffer.concat([this.#buffered, chunk]);
    const headEnd = data.indexOf(HEAD_END);
    if (headEnd < 0) {
      this.#buffered = data;
      return;
    }

    const head = data.toString('latin1', 0, headEnd);
    const end = answerEnd(head, data, headEnd + HEAD_END.length);
    if (end === UNREADABLE) {
      // Its end cannot be found, nor where the next answer starts: the connection is done.
      this.close();
      this.#settle(NO_ANSWER);
      return;
    }

    if (end < 0) {
      this.#buffered = data;
      return;
    }

    this.#buffered = null;
    // One request in flight: nothing can follow the answer but the server's next refusal.
    if (/\r\nconnection:[ \t]*close/i.test(head)) this.close();
    this.#settle(Number(head.slice(9, 12)));
  }
}

/**
 * Where the answer whose head is `head` ends in `data` (its body starting at `bodyStart`), -1
 * while some of it has still to arrive (a body may come in a later TLS record than its head), or
 * UNREADABLE: Content-Length, or chunks up to the last (RFC 9112 7.1; the servers measured send
 * no trailers).
 */
function answerEnd(head, data, bodyStart) {
  if (/\r\ntransfer-encoding:[^\r]*chunked/i.test(head)) {
    let at = bodyStart;
    for (;;) {
      const lineEnd = data.indexOf(CRLF, at);
      if (lineEnd < 0) return -1;

      const size = Number.parseInt(data.toString('latin1', at, lineEnd), 16);
      if (Number.isNaN(size)) return UNREADABLE;

      at = lineEnd + CRLF.length + size + CRLF.length;
      if (at > data.length) return -1;
      if (size === 0) return at;
    }
  }

  const length = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head);
  const end = bodyStart + (length === null ? 0 : Number(length[1]));

  return end > data.length ? -1 : end;
}

/** A POST's bytes as a browser's beacon would send them, from `who` (see traffic.mjs). */
export function postBytes(target, body, who) {
  const head =
    `POST ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\n` +
    'Content-Type: text/plain;charset=UTF-8\r\n' +
    `Content-Length: ${body.length}\r\nUser-Agent: ${who.userAgent}\r\n` +
    (who.address === undefined ? '' : `X-Forwarded-For: ${who.address}\r\n`) +
    'Origin: https://localhost\r\nAccept: */*\r\n\r\n';

  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}
