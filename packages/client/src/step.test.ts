// cairn.step(): at most once to success across the tries of a task, through real HTTP round trips and a
// real retry (a new task instance id, a new token), on each test database.
import { describeEachDatabase } from "@cairn/db/testing";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createCairnClient, StepResultError, stepKey } from "./index.ts";
import { failure, startTestServer, type TestServer } from "./testing/harness.ts";

describeEachDatabase("step()", (getDb) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(getDb(), { maxValueBytes: 2_000 });
  });
  afterAll(async () => {
    await server?.close();
  });

  const bind = (token: string) => createCairnClient({ url: server.url, token });

  /** A counting step function. */
  function counted<T>(value: T) {
    const fn = async () => {
      fn.calls++;
      return value;
    };
    fn.calls = 0;
    return fn;
  }

  it("runs once to success, and a retry of the task (new id, new token) gets the stored result", async () => {
    const first = await server.newTask();
    const tryOne = bind(first.token);
    const orders = counted({ orders: [1, 2, 3], cursor: "c-9" });
    expect(await tryOne.step("fetch-orders", orders)).toEqual({ orders: [1, 2, 3], cursor: "c-9" });
    expect(await tryOne.step("fetch-orders", orders)).toEqual({ orders: [1, 2, 3], cursor: "c-9" });
    expect(orders.calls).toBe(1);

    // The scheduler retries the task: a new try, a new id, a new token; the same task state.
    const retried = await server.admin.admin.taskInstances.retry({ taskInstanceId: first.id });
    expect(retried.id).not.toBe(first.id);
    const { token } = await server.admin.admin.tokens.issue({ taskInstanceId: retried.id });
    const tryTwo = bind(token);
    const again = counted({ orders: [], cursor: "other" });
    expect(await tryTwo.step("fetch-orders", again)).toEqual({ orders: [1, 2, 3], cursor: "c-9" });
    expect(again.calls).toBe(0);
    // The step is an entry of the task's state like any other.
    expect(await tryTwo.entry(stepKey("fetch-orders"))).toMatchObject({
      value: { result: { cursor: "c-9" } },
    });
  });

  it("a throwing function stores nothing: the error comes through, and the next call runs it again", async () => {
    const cairn = bind((await server.newTask()).token);
    const boom = new Error("the remote API is down");
    expect(await failure(cairn.step("call-api", () => Promise.reject(boom)))).toBe(boom);
    expect(await cairn.entry(stepKey("call-api"))).toBeNull();
    const ok = counted("job-42");
    expect(await cairn.step("call-api", ok)).toBe("job-42");
    expect(ok.calls).toBe(1);
  });

  it("concurrent calls of one step in this process run it once", async () => {
    const cairn = bind((await server.newTask()).token);
    let calls = 0;
    const slow = async () => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 50));
      return { id: "remote-1" };
    };
    const results = await Promise.all(Array.from({ length: 5 }, () => cairn.step("start-job", slow)));
    expect(results).toEqual(Array.from({ length: 5 }, () => ({ id: "remote-1" })));
    expect(calls).toBe(1);
  });

  it("a function that returns nothing is a step too: done once, undefined after", async () => {
    const cairn = bind((await server.newTask()).token);
    let sent = 0;
    const send = async () => {
      sent++;
    };
    expect(await cairn.step("send-email", send)).toBeUndefined();
    expect(await cairn.step("send-email", send)).toBeUndefined();
    expect(sent).toBe(1);
  });

  it("a result that is not plain JSON is refused before anything is stored, and kept on the error", async () => {
    const cairn = bind((await server.newTask()).token);
    const cycle: Record<string, unknown> = { a: 1 };
    cycle.self = cycle;
    for (const [result, why] of [
      [{ when: new Date(0) }, /the result\.when is a Date/],
      [{ n: Number.NaN }, /the result\.n is NaN/],
      [{ big: 10n }, /the result\.big is a bigint/],
      [[1, () => 2], /the result\[1\] is a function/],
      [cycle, /the result\.self refers back to itself/],
      [new Map([["a", 1]]), /the result is a Map/],
    ] as const) {
      const error = await failure(cairn.step("lossy", async () => result));
      expect(error).toBeInstanceOf(StepResultError);
      expect((error as Error).message).toMatch(why);
      expect((error as Error).message).toContain("nothing was stored");
      expect((error as StepResultError).result).toBe(result);
    }
    expect(await cairn.entry(stepKey("lossy"))).toBeNull();
  });

  it("a result the server refuses (over CAIRN_MAX_VALUE_BYTES) is a StepResultError that keeps it", async () => {
    const cairn = bind((await server.newTask()).token);
    const big = "x".repeat(5_000);
    const error = await failure(cairn.step("big", async () => big));
    expect(error).toBeInstanceOf(StepResultError);
    expect((error as Error).message).toMatch(/refused its result.*value_too_large|refused its result.*limit/);
    expect((error as StepResultError).result).toBe(big);
    expect(await cairn.entry(stepKey("big"))).toBeNull();
  });
});
