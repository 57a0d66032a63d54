// Types of bench/client.mjs, for the tests that drive it.
export declare const NO_ANSWER: 0;

export declare class Connection {
  constructor(options: { host: string; port: number; ca: string | Buffer; servername: string });
  open(): Promise<boolean>;
  send(bytes: Buffer): Promise<number>;
  close(): void;
}

export declare function postBytes(
  target: URL,
  body: Buffer,
  who: { userAgent: string; address?: string },
): Buffer;
