// A list page stops at `limit` items or once its values pass CAIRN_MAX_PAGE_BYTES (spec §4), whichever
// comes first; a single larger value still comes alone; `nextCursor` continues either way. Every list:
// task state, asset state, and both admin lists. On PGlite and PostgreSQL.
import { describeEachDatabase } from "@cairn/db/testing";
import { expect, it } from "vitest";
import { fixtures, testConfig } from "../testing/fixtures.ts";

const BUDGET = 1_000;
/** A string value whose JSON text (with its quotes) is `bytes` long. */
const jsonText = (bytes: number, fill = "v") => fill.repeat(bytes - 2);

interface Listed {
  items: { key: string; value: unknown }[];
  nextCursor: string | null;
}

/** Every page of a list, following nextCursor until null. */
async function pages(list: (cursor: string | null) => Promise<Listed>): Promise<Listed[]> {
  const out: Listed[] = [];
  let cursor: string | null = null;
  do {
    const page: Listed = await list(cursor);
    out.push(page);
    cursor = page.nextCursor;
  } while (cursor !== null && out.length < 100);
  return out;
}

const keysOf = (all: Listed[]) => all.flatMap((page) => page.items.map((item) => item.key));
const sizesOf = (all: Listed[]) => all.map((page) => page.items.length);

describeEachDatabase("list pages and their byte budget", (getDb) => {
  const f = fixtures(getDb, testConfig({ maxPageBytes: BUDGET }));
  const keys = Array.from({ length: 10 }, (_, i) => `k${String(i).padStart(2, "0")}`);

  it("task state: pages stop once their values pass the budget, then continue; limit still counts", async () => {
    const t = await f.newTask();
    for (const key of keys) await t.caller.taskState.set({ taskInstanceId: t.id, key, value: jsonText(300) });

    // 300-byte values: the 4th starts at 900 (< 1000) and is the last of a page.
    const byBudget = await pages((cursor) =>
      t.caller.taskState.list({ taskInstanceId: t.id, limit: 100, cursor }),
    );
    expect(sizesOf(byBudget)).toEqual([4, 4, 2]);
    expect(keysOf(byBudget)).toEqual(keys);

    const byLimit = await pages((cursor) =>
      t.caller.taskState.list({ taskInstanceId: t.id, limit: 3, cursor }),
    );
    expect(sizesOf(byLimit)).toEqual([3, 3, 3, 1]);
    expect(keysOf(byLimit)).toEqual(keys);
  });

  it("a value larger than the whole budget comes alone on its page", async () => {
    const t = await f.newTask();
    await t.caller.taskState.set({ taskInstanceId: t.id, key: "a", value: jsonText(100) });
    await t.caller.taskState.set({ taskInstanceId: t.id, key: "b", value: jsonText(3_000) });
    await t.caller.taskState.set({ taskInstanceId: t.id, key: "c", value: jsonText(3_000) });
    await t.caller.taskState.set({ taskInstanceId: t.id, key: "d", value: jsonText(100) });
    const all = await pages((cursor) =>
      t.caller.taskState.list({ taskInstanceId: t.id, limit: 100, cursor }),
    );
    // a (100 bytes) and b (starts at 100 < 1000); c alone (d would start at 3000); d.
    expect(all.map((page) => page.items.map((item) => item.key))).toEqual([["a", "b"], ["c"], ["d"]]);
    expect(all.at(-1)?.nextCursor).toBeNull();
  });

  it("counts the value as JSON text: multi-byte characters count in UTF-8 bytes", async () => {
    const t = await f.newTask();
    // "é" is 2 bytes in UTF-8: 150 of them make a 302-byte value, so again 4 per page.
    for (const key of keys.slice(0, 5)) {
      await t.caller.taskState.set({ taskInstanceId: t.id, key, value: "é".repeat(150) });
    }
    const all = await pages((cursor) =>
      t.caller.taskState.list({ taskInstanceId: t.id, limit: 100, cursor }),
    );
    expect(sizesOf(all)).toEqual([4, 1]);
  });

  it("asset state and the admin lists use the same budget", async () => {
    const asset = await f.newAsset();
    const t = await f.newTask({ outlets: [{ name: asset.name }] });
    for (const key of keys) {
      await t.caller.assetState.set({ asset: { name: asset.name }, key, value: jsonText(300) });
      await t.caller.taskState.set({ taskInstanceId: t.id, key, value: jsonText(300) });
    }
    const execution = await pages((cursor) =>
      t.caller.assetState.list({ asset: { name: asset.name }, limit: 100, cursor }),
    );
    expect(sizesOf(execution)).toEqual([4, 4, 2]);
    expect(keysOf(execution)).toEqual(keys);

    const admin = f.admin().admin;
    const assetAdmin = await pages((cursor) =>
      admin.assetState.list({ asset: { uri: asset.uri }, limit: 100, cursor }),
    );
    expect(sizesOf(assetAdmin)).toEqual([4, 4, 2]);
    expect(keysOf(assetAdmin)).toEqual(keys);

    const taskAdmin = await pages((cursor) =>
      admin.taskState.list({ dagId: t.dagId, runId: t.runId, taskId: t.taskId, limit: 100, cursor }),
    );
    expect(sizesOf(taskAdmin)).toEqual([4, 4, 2]);
    expect(keysOf(taskAdmin)).toEqual(keys);
  });
});
