/**
 * A tiny MaxMind DB (format 2.0) writer for tests, written from the public specification at
 * https://maxmind.github.io/MaxMind-DB/. It builds the binary search tree (24-bit records), the
 * data section and the metadata, enough to produce City-layout databases with chosen answers, so
 * geo code can be tested against a real reader without shipping MaxMind's files.
 *
 * Supported values: strings, unsigned 32-bit integers, doubles, booleans, arrays and maps.
 */
export type MmdbValue = string | number | boolean | MmdbValue[] | { [key: string]: MmdbValue };

export interface MmdbNetwork {
  /** `81.2.69.0/24`, `2a02:ff0::/32`; IPv4 networks in an IPv6 tree go under `::/96`. */
  network: string;
  data: { [key: string]: MmdbValue };
}

export interface MmdbOptions {
  ipVersion: 4 | 6;
  databaseType: string;
  networks: MmdbNetwork[];
}

const TYPE = {
  utf8: 2,
  double: 3,
  uint32: 6,
  map: 7,
  array: 11,
  boolean: 14,
} as const;

function controlBytes(type: number, size: number): number[] {
  const typeBits = type <= 7 ? type << 5 : 0;
  const extended = type > 7 ? [type - 7] : [];
  if (size < 29) return [typeBits | size, ...extended];
  if (size < 29 + 256) return [typeBits | 29, ...extended, size - 29];

  if (size < 285 + 65_536) {
    const rest = size - 285;

    return [typeBits | 30, ...extended, rest >> 8, rest & 0xff];
  }

  const rest = size - 65_821;

  return [typeBits | 31, ...extended, (rest >> 16) & 0xff, (rest >> 8) & 0xff, rest & 0xff];
}

function encodeUint(value: number): Buffer {
  const bytes: number[] = [];
  for (let rest = value; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);

  return Buffer.from([...controlBytes(TYPE.uint32, bytes.length), ...bytes]);
}

/** Encodes one value in the data-section format. */
export function encodeValue(value: MmdbValue): Buffer {
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');

    return Buffer.concat([Buffer.from(controlBytes(TYPE.utf8, bytes.length)), bytes]);
  }

  if (typeof value === 'boolean') return Buffer.from(controlBytes(TYPE.boolean, value ? 1 : 0));

  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 0 && value < 2 ** 32) return encodeUint(value);

    const bytes = Buffer.alloc(8);
    bytes.writeDoubleBE(value);

    return Buffer.concat([Buffer.from(controlBytes(TYPE.double, 8)), bytes]);
  }

  if (Array.isArray(value)) {
    return Buffer.concat([
      Buffer.from(controlBytes(TYPE.array, value.length)),
      ...value.map(encodeValue),
    ]);
  }

  const entries = Object.entries(value);
  const parts = entries.flatMap(([key, item]) => [encodeValue(key), encodeValue(item)]);

  return Buffer.concat([Buffer.from(controlBytes(TYPE.map, entries.length)), ...parts]);
}

interface TreeNode {
  children: [TreeNode | number | null, TreeNode | number | null];
  id: number;
}

function newNode(): TreeNode {
  return { children: [null, null], id: -1 };
}

function ipv4Bits(text: string): number[] {
  return text.split('.').flatMap((part) => {
    const byte = Number(part);

    return Array.from({ length: 8 }, (_, i) => (byte >> (7 - i)) & 1);
  });
}

function ipv6Bits(text: string): number[] {
  const [head = '', tail = ''] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  const fill = text.includes('::') ? 8 - headGroups.length - tailGroups.length : 0;
  const groups = [...headGroups, ...new Array<string>(fill).fill('0'), ...tailGroups];

  return groups.flatMap((group) => {
    const value = parseInt(group, 16);

    return Array.from({ length: 16 }, (_, i) => (value >> (15 - i)) & 1);
  });
}

function networkBits(network: string, ipVersion: 4 | 6): number[] {
  const [address = '', prefixText = ''] = network.split('/');
  const v4 = !address.includes(':');
  const bits = v4 ? ipv4Bits(address) : ipv6Bits(address);
  const prefix = Number(prefixText);
  const lead = v4 && ipVersion === 6 ? new Array<number>(96).fill(0) : [];
  if (!v4 && ipVersion === 4) throw new Error(`IPv6 network ${network} in an IPv4 database`);

  return [...lead, ...bits.slice(0, prefix)];
}

function insert(root: TreeNode, bits: number[], dataOffset: number): void {
  let node = root;
  bits.forEach((bit, i) => {
    const side = bit as 0 | 1;
    if (i === bits.length - 1) {
      node.children[side] = dataOffset;
      return;
    }

    const next = node.children[side];
    if (typeof next === 'number') throw new Error('overlapping networks are not supported');

    const child = next ?? newNode();
    node.children[side] = child;
    node = child;
  });
}

function numberNodes(root: TreeNode): TreeNode[] {
  const order: TreeNode[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const node = queue.shift() as TreeNode;
    node.id = order.length;
    order.push(node);
    for (const child of node.children) {
      if (child !== null && typeof child === 'object') queue.push(child);
    }
  }

  return order;
}

/** Writes a complete `.mmdb` file image. */
export function writeMmdb(options: MmdbOptions): Buffer {
  const dataParts: Buffer[] = [];
  let dataLength = 0;
  const root = newNode();
  for (const { network, data } of options.networks) {
    const encoded = encodeValue(data);
    insert(root, networkBits(network, options.ipVersion), dataLength);
    dataParts.push(encoded);
    dataLength += encoded.length;
  }

  const nodes = numberNodes(root);
  const nodeCount = nodes.length;
  const record = (child: TreeNode | number | null): number => {
    if (child === null) return nodeCount;
    if (typeof child === 'number') return nodeCount + 16 + child;

    return child.id;
  };

  const tree = Buffer.alloc(nodeCount * 6);
  nodes.forEach((node, i) => {
    tree.writeUIntBE(record(node.children[0]), i * 6, 3);
    tree.writeUIntBE(record(node.children[1]), i * 6 + 3, 3);
  });

  const metadata = encodeValue({
    node_count: nodeCount,
    record_size: 24,
    ip_version: options.ipVersion,
    database_type: options.databaseType,
    languages: ['en'],
    binary_format_major_version: 2,
    binary_format_minor_version: 0,
    build_epoch: 1_700_000_000,
    description: { en: 'LightTrail test database' },
  });

  return Buffer.concat([
    tree,
    Buffer.alloc(16),
    ...dataParts,
    Buffer.from([0xab, 0xcd, 0xef]),
    Buffer.from('MaxMind.com', 'ascii'),
    metadata,
  ]);
}

/** A GeoIP2-City-shaped record. */
export function cityRecord(
  country: string,
  region: string | null,
  city: string | null,
): { [key: string]: MmdbValue } {
  const record: { [key: string]: MmdbValue } = {
    country: { iso_code: country, names: { en: country } },
    registered_country: { iso_code: country, names: { en: country } },
    location: { latitude: 1.5, longitude: -2.25, accuracy_radius: 100 },
  };
  if (region !== null)
    record.subdivisions = [{ iso_code: region.slice(0, 2).toUpperCase(), names: { en: region } }];
  if (city !== null) record.city = { names: { en: city } };

  return record;
}
