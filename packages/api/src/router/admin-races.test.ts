// Writes racing the admin operations that remove or disable what they write to. Every answer must say what
// the state is at that moment: success, or NOT_FOUND (or FORBIDDEN) with its reason; never a 500 and never a
// CONFLICT for a write that asked for no version. The admin operation itself always succeeds.
// 20 writers against each operation, for several rounds, on PGlite and PostgreSQL.
import { describeEachDatabase } from "@cairn/db/testing";
import { expect, it } from "vitest";
import { type Caller, fixtures } from "../testing/fixtures.ts";

const WRITERS = 20;
const ROUNDS = 4;

/** `OK`, or `CODE reason` of a failed call. */
async function answerOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "OK";
  } catch (error) {
    const e = error as { code?: string; cause?: { reason?: string } };
    return `${e.code ?? "UNKNOWN"} ${e.cause?.reason ?? "-"}`;
  }
}

/** Runs `writers` concurrent loops of `write` until `operation` has finished and each wrote a few more. */
async function race(
  write: (writer: number, n: number) => Promise<unknown>,
  operation: () => Promise<unknown>,
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let operationDone = false;
  let written = 0;
  let started!: () => void;
  const writing = new Promise<void>((resolve) => {
    started = resolve;
  });
  const loops = Array.from({ length: WRITERS }, async (_, writer) => {
    let after = 0;
    for (let n = 0; after < 3; n++) {
      const answer = await answerOf(write(writer, n));
      counts.set(answer, (counts.get(answer) ?? 0) + 1);
      if (operationDone) after++;
      if (++written === WRITERS * 2) started();
      // PGlite answers without leaving the microtask queue: let timers and I/O run between calls.
      await new Promise((resolve) => setImmediate(resolve));
    }
  });
  await writing; // every writer is under way
  await operation();
  operationDone = true;
  await Promise.all(loops);
  return counts;
}

function merge(into: Map<string, number>, from: Map<string, number>): void {
  for (const [answer, count] of from) into.set(answer, (into.get(answer) ?? 0) + count);
}

describeEachDatabase("writes racing admin operations", (getDb) => {
  const f = fixtures(getDb);
  const admin = () => f.admin().admin;

  it("taskState writes during admin.dagRuns.delete: OK or NOT_FOUND task_instance_not_found", async () => {
    const all = new Map<string, number>();
    for (let round = 0; round < ROUNDS; round++) {
      const tasks = await Promise.all(
        Array.from({ length: 4 }, () => f.newTask({ dagId: `race_${round}`, runId: `r${round}` })),
      );
      const counts = await race(
        (writer, n) => {
          const task = tasks[writer % tasks.length]!;
          const call = task.caller.taskState;
          const key = `k${writer}`;
          if (n % 4 === 3) return call.delete({ taskInstanceId: task.id, key });
          if (n % 4 === 2)
            return call.set({ taskInstanceId: task.id, key: `${key}_${n}`, value: n, ifVersion: 0 });
          return call.set({ taskInstanceId: task.id, key, value: n });
        },
        async () =>
          expect(await admin().dagRuns.delete({ dagId: `race_${round}`, runId: `r${round}` })).toEqual({
            deleted: true,
          }),
      );
      merge(all, counts);
    }
    expect([...all.keys()].sort()).toEqual(expect.arrayContaining(["NOT_FOUND task_instance_not_found"]));
    for (const answer of all.keys()) expect(["OK", "NOT_FOUND task_instance_not_found"]).toContain(answer);
  }, 60_000);

  it("assetState writes during admin.assets.delete: OK, or the asset is gone (NOT_FOUND / FORBIDDEN)", async () => {
    const all = new Map<string, number>();
    for (let round = 0; round < ROUNDS; round++) {
      const asset = await f.newAsset();
      const task = await f.newTask({ outlets: [{ name: asset.name }] });
      const writers: Caller[] = [task.caller, f.admin()];
      const counts = await race(
        (writer, n) =>
          writers[writer % 2]!.assetState.set({ asset: { name: asset.name }, key: `k${writer}`, value: n }),
        async () => expect(await admin().assets.delete({ name: asset.name })).toEqual({ deleted: true }),
      );
      merge(all, counts);
    }
    expect([...all.keys()]).toEqual(expect.arrayContaining(["OK", "NOT_FOUND asset_not_found"]));
    for (const answer of all.keys()) {
      // An execution token's task no longer declares a deleted asset: FORBIDDEN, checked first (spec §4).
      expect(["OK", "NOT_FOUND asset_not_found", "FORBIDDEN asset_not_registered"]).toContain(answer);
    }
  }, 60_000);

  it("assetState writes, compare-and-set and deletes while admin.assets.setActive flaps: OK or NOT_FOUND asset_not_found, never CONFLICT", async () => {
    const all = new Map<string, number>();
    for (let round = 0; round < ROUNDS; round++) {
      const asset = await f.newAsset();
      const task = await f.newTask({ outlets: [{ name: asset.name }] });
      // Each writer alone writes its key, so it always knows the version: a CONFLICT would be false.
      const versions = new Map<number, number>();
      const counts = await race(
        async (writer, n) => {
          const state = (writer % 2 ? task.caller : f.admin()).assetState;
          const ref = { asset: { name: asset.name }, key: `k${writer}` };
          const known = versions.get(writer) ?? 0;
          if (writer % 4 < 2) return state.set({ ...ref, value: n });
          if (n % 3 === 2 && known > 0) {
            await state.delete({ ...ref, ifVersion: known });
            versions.set(writer, 0);
            return;
          }
          versions.set(writer, (await state.set({ ...ref, value: n, ifVersion: known })).version);
        },
        async () => {
          for (let flap = 0; flap < 10; flap++) {
            await admin().assets.setActive({ name: asset.name, active: flap % 2 === 1 });
          }
        },
      );
      merge(all, counts);
    }
    expect(all.get("OK")).toBeGreaterThan(0);
    for (const answer of all.keys()) expect(["OK", "NOT_FOUND asset_not_found"]).toContain(answer);
  }, 60_000);
});
