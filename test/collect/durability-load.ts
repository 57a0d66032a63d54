import { Agent, request } from 'node:https';

const CHROME_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 ' +
  'Safari/537.36';

/**
 * Load for the durability tests: several keep-alive HTTPS clients on 127.0.0.1, each posting
 * pageviews whose path is a unique marker (`/durable/<tag>/<letters>`). Letters only, so the
 * PHI firewall neither collapses a marker into `:id` nor redacts it as a digit run. Every marker
 * a 200 acknowledged is recorded; a client stops at its first connection error (the server was
 * killed) or refusal (the server is shutting down). Nothing is ever retried: a duplicate in the
 * database can only come from the server.
 */
export interface LoadOptions {
  port: number;
  ca: Buffer;
  siteId: string;
  /** Names the round in every marker, so rounds can be told apart in the database. */
  tag: string;
  clients: number;
}

export interface Ack {
  at: number;
  markers: string[];
}

export interface LoadRun {
  /** Every marker sent, acknowledged or not. */
  readonly attempted: Set<string>;
  /** Markers in a 200 whose body said every event of the request was stored. */
  readonly acked: Set<string>;
  readonly acks: Ack[];
  /** Answers other than such a 200, as `<status> <code>`, and connection errors by code. */
  readonly refusals: Map<string, number>;
  /** Requests sent and not yet answered. */
  inFlight(): number;
  /** Resolves when every client stopped. */
  readonly done: Promise<void>;
  /** Asks the clients to stop after their current request. */
  stop(): Promise<void>;
}

export const MARKER = /^\/durable\/[a-z-]+\/[a-z]+$/;

/** 0 → a, 25 → z, 26 → ba: a marker without a digit in it. */
export function letters(n: number): string {
  let out = '';
  let rest = n;
  do {
    out = String.fromCharCode(97 + (rest % 26)) + out;
    rest = Math.floor(rest / 26);
  } while (rest > 0);

  return out;
}

export function driveLoad(options: LoadOptions): LoadRun {
  const attempted = new Set<string>();
  const acked = new Set<string>();
  const acks: Ack[] = [];
  const refusals = new Map<string, number>();
  let next = 0;
  let pending = 0;
  let stopping = false;
  const refuse = (what: string) => refusals.set(what, (refusals.get(what) ?? 0) + 1);

  async function client(index: number): Promise<void> {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let sent = 0; !stopping; sent++) {
        // Mostly single events as a browser sends them; every fourth request a batch of five.
        const size = (sent + index) % 4 === 0 ? 5 : 1;
        const markers = Array.from(
          { length: size },
          () => `/durable/${options.tag}/${letters(next++)}`,
        );
        for (const marker of markers) attempted.add(marker);

        pending++;
        const answer = await post(options, agent, markers).finally(() => pending--);
        if ('error' in answer) {
          refuse(answer.error);
          return;
        }

        const body = answer.json as { ok?: boolean; stored?: number; error?: { code?: string } };
        if (answer.status === 200 && body.ok === true && body.stored === size) {
          for (const marker of markers) acked.add(marker);
          acks.push({ at: Date.now(), markers });
          continue;
        }

        refuse(`${answer.status} ${body.error?.code ?? JSON.stringify(body)}`);
        return;
      }
    } finally {
      agent.destroy();
    }
  }

  const done = Promise.all(
    Array.from({ length: options.clients }, (_, index) => client(index)),
  ).then(() => undefined);

  return {
    attempted,
    acked,
    acks,
    refusals,
    inFlight: () => pending,
    done,
    stop: () => {
      stopping = true;

      return done;
    },
  };
}

type Answer = { status: number; json: unknown } | { error: string };

function post(options: LoadOptions, agent: Agent, markers: string[]): Promise<Answer> {
  const events = markers.map((marker) => ({
    type: 'pageview',
    url: `https://localhost${marker}`,
    referrer: '',
  }));
  const body = JSON.stringify({ site: options.siteId, events });

  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: options.port,
        path: '/api/collect',
        method: 'POST',
        ca: options.ca,
        servername: 'localhost',
        agent,
        timeout: 10_000,
        headers: { 'Content-Type': 'text/plain', 'User-Agent': CHROME_UA },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('error', () => resolve({ error: 'response_error' }));
        res.on('close', () => {
          if (!res.complete) resolve({ error: 'response_cut' });
        });
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) });
          } catch {
            resolve({ status: res.statusCode ?? 0, json: { unparsed: text.slice(0, 80) } });
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error: NodeJS.ErrnoException) =>
      resolve({ error: error.code ?? error.message }),
    );
    req.end(body);
  });
}

/**
 * GET /healthz. A server that answered it has returned to its event loop after printing its URL,
 * so its SIGTERM handler is installed (`start` prints the URL first, then installs the handler).
 */
export function health(port: number, ca: Buffer): Promise<number> {
  return getStatus(port, ca, '/healthz');
}

/** The status of a GET on the server, its body read and dropped. */
export function getStatus(
  port: number,
  ca: Buffer,
  path: string,
  headers: Record<string, string> = {},
): Promise<number> {
  return new Promise((resolve, reject) => {
    request(
      { host: '127.0.0.1', port, path, headers, ca, servername: 'localhost', agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    )
      .on('error', reject)
      .end();
  });
}
