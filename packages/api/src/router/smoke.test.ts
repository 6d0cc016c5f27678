import { describeEachDatabase } from "@cairn/db/testing";
import { expect, it } from "vitest";
import { failure, fixtures } from "../testing/fixtures.ts";

describeEachDatabase("smoke", (getDb) => {
  const f = fixtures(getDb);
  it("sets and gets", async () => {
    const t = await f.newTask();
    expect(await t.caller.taskState.set({ taskInstanceId: t.id, key: "a/b", value: { x: 1 } })).toEqual({
      version: 1,
    });
    expect(await t.caller.taskState.set({ taskInstanceId: t.id, key: "a/b", value: { x: 2 } })).toEqual({
      version: 2,
    });
    const entry = await t.caller.taskState.get({ taskInstanceId: t.id, key: "a/b" });
    expect(entry.value).toEqual({ x: 2 });
    expect(await failure(t.caller.taskState.get({ taskInstanceId: t.id, key: "nope" }))).toMatchObject({
      code: "NOT_FOUND",
      reason: "key_not_found",
    });
    const asset = await f.newAsset();
    const t2 = await f.newTask({ outlets: [{ name: asset.name }] });
    expect(await t2.caller.assetState.set({ asset: { uri: asset.uri }, key: "wm", value: 5 })).toEqual({
      version: 1,
    });
    expect((await t2.caller.assetState.get({ asset: { name: asset.name }, key: "wm" })).value).toBe(5);
    expect(
      await t2.caller.assetState.set({ asset: { uri: asset.uri }, key: "wm", value: 6, ifVersion: 1 }),
    ).toEqual({ version: 2 });
    expect(
      await failure(
        t2.caller.assetState.set({ asset: { uri: asset.uri }, key: "wm", value: 6, ifVersion: 1 }),
      ),
    ).toMatchObject({ code: "CONFLICT" });
    expect(await failure(t.caller.assetState.get({ asset: { name: asset.name }, key: "wm" }))).toMatchObject({
      code: "FORBIDDEN",
      reason: "asset_not_registered",
    });
    expect(await t2.caller.assetState.list({ asset: { name: asset.name } })).toMatchObject({
      items: [{ key: "wm" }],
      nextCursor: null,
    });
    expect(await t2.caller.assetState.clear({ asset: { name: asset.name } })).toEqual({ deleted: 1 });
  });
});
