// The workloads of /work/shared/notes/performance.md that this harness runs, and the operations each
// one issues. Every variant draws its operations from the same picker, so they do the same work.
import { randomInt, randomValues, smallValues } from "./common.ts";

export type VariantId = "B1" | "B2" | "P" | "P+log" | "P-fastify" | "P-trpc";

export type OpKind = "put" | "get-hit" | "get-miss" | "mix" | "batch";

export interface Workload {
  /** Stable id, used as the JSON key and the table row: e.g. "W1 put c=32". */
  id: string;
  group: "W1" | "W2" | "W3" | "W4" | "W5" | "W6";
  kind: OpKind;
  /** HTTP connections (B2, P); B1 keeps min(connections, 16) queries in flight on a pool of 10. */
  connections: number;
  /** JSON text size of written values. */
  valueBytes: number;
  /** Writes spread over this many task instances (the first N seeded) and `putKeys` keys in each. */
  putInstances: number;
  putKeys: number;
  putPrefix: string;
  /** Keys that reads hit (default: the seeded "hit" key). */
  getKeys?: string[];
  /** W6: calls per HTTP request (typed client, httpBatchLink). */
  batch?: number;
  variants: VariantId[];
}

const ALL: VariantId[] = ["B1", "B2", "P"];
const HTTP: VariantId[] = ["B2", "P"];

/** The interleaved table. `instances` is how many task instances were seeded. */
export function mainWorkloads(instances: number): Workload[] {
  const base = { valueBytes: 100, putInstances: instances, putKeys: 4, putPrefix: "w1-", variants: ALL };
  const w5 = (bytes: number, label: string): Workload => ({
    ...base,
    id: `W5 put ${label} c=16`,
    group: "W5",
    kind: "put",
    connections: 16,
    valueBytes: bytes,
    // A bounded key space: updates of 1 000 rows, not an ever-growing TOAST table.
    putInstances: Math.min(1_000, instances),
    putKeys: 1,
    putPrefix: `w5-${label}-`,
  });
  return [
    { ...base, id: "W1 put c=1", group: "W1", kind: "put", connections: 1 },
    { ...base, id: "W1 put c=32", group: "W1", kind: "put", connections: 32 },
    { ...base, id: "W2 get hit c=1", group: "W2", kind: "get-hit", connections: 1 },
    { ...base, id: "W2 get hit c=32", group: "W2", kind: "get-hit", connections: 32 },
    { ...base, id: "W2 get miss c=32", group: "W2", kind: "get-miss", connections: 32 },
    { ...base, id: "W3 90/10 c=32", group: "W3", kind: "mix", connections: 32, putPrefix: "w3-" },
    w5(1_000, "1KB"),
    w5(16_000, "16KB"),
    w5(64_000, "64KB"),
    {
      ...base,
      id: "W6 batch 10 (keys/s)",
      group: "W6",
      kind: "batch",
      connections: 8,
      batch: 10,
      putPrefix: "w6-",
      putKeys: 50,
      variants: HTTP,
    },
    {
      ...base,
      id: "W6 batch 50 (keys/s)",
      group: "W6",
      kind: "batch",
      connections: 4,
      batch: 50,
      putPrefix: "w6-",
      putKeys: 50,
      variants: HTTP,
    },
  ];
}

export interface Op {
  set: boolean;
  /** Seeded instance index. */
  i: number;
  key: string;
  /** JSON text of the value (sets only). */
  value: string;
}

/** Key every instance holds from the seed (W2 hits, W3 reads). */
export const HIT_KEY = "hit";
/** Key no instance holds (W2 misses: the server's second query explains the miss). */
export const MISS_KEY = "absent";

/** Values for a workload: a pool of distinct random ones, reused round-robin. */
export function valuePool(valueBytes: number): string[] {
  const count = valueBytes >= 16_000 ? 32 : 256;
  return valueBytes === 100 ? smallValues(count) : randomValues(valueBytes, count);
}

/** Draws the next operation of a workload (uniform over the instances it covers). */
export function opPicker(
  w: Pick<Workload, "kind" | "putInstances" | "putKeys" | "putPrefix" | "valueBytes" | "getKeys">,
  instances: number,
): () => Op {
  const values = valuePool(w.valueBytes);
  const hitKeys = w.getKeys ?? [HIT_KEY];
  const hit = () => hitKeys[hitKeys.length === 1 ? 0 : randomInt(hitKeys.length)]!;
  let n = 0;
  const put = (): Op => ({
    set: true,
    i: randomInt(w.putInstances),
    key: w.putPrefix + randomInt(w.putKeys),
    value: values[n++ % values.length]!,
  });
  const get = (key: string): Op => ({ set: false, i: randomInt(instances), key, value: "" });
  switch (w.kind) {
    case "put":
    case "batch":
      return put;
    case "get-hit":
      return () => get(hit());
    case "get-miss":
      return () => get(MISS_KEY);
    case "mix":
      return () => (Math.random() < 0.1 ? put() : get(hit()));
  }
}
