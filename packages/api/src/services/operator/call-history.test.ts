// The console's 15-minute call history: intervals roll over, old calls leave the window, and the p99
// read off the latency buckets is within their 19 % resolution.
import { describe, expect, it } from "vitest";
import type { ProcedureCall } from "../../context.ts";
import { CallHistory } from "./call-history.ts";

const call = (path: string, durationMs: number, outcome = "OK"): ProcedureCall => ({
  path,
  outcome,
  durationMs,
  plane: "none",
  rowsWritten: 0,
  rowsDeleted: 0,
  deletedVia: "delete",
});

describe("CallHistory", () => {
  it("puts calls in 10 s intervals, the current one last, and forgets them after 15 minutes", () => {
    let now = Date.UTC(2026, 11, 1, 12, 0, 5);
    const history = new CallHistory(() => now);
    history.record(call("taskState.get", 1));
    now += 10_000;
    history.record(call("taskState.get", 1));
    history.record(call("taskState.set", 2, "CONFLICT"));
    const recent = history.recent();
    expect(recent.from).toBe(new Date(Date.UTC(2026, 11, 1, 12, 0, 10) - 89 * 10_000).toISOString());
    const get = recent.procedures.find((line) => line.path === "taskState.get");
    expect(get?.calls.slice(-2)).toEqual([1, 1]);
    expect(recent.procedures.find((line) => line.path === "taskState.set")?.errors.at(-1)).toBe(1);
    // 15 minutes later the first call's interval has left the window, then the second's.
    now += 89 * 10_000;
    expect(
      history
        .recent()
        .procedures.find((line) => line.path === "taskState.get")
        ?.calls.at(0),
    ).toBe(1);
    now += 10_000;
    expect(history.recent().procedures.map((line) => line.path)).toEqual([]);
  });

  it("reads the p99 off the buckets within 19 %", () => {
    const now = Date.UTC(2026, 11, 1, 12, 0, 0);
    const history = new CallHistory(() => now);
    // 990 fast calls and 10 slow ones: the p99 is the 990th, a fast one; one more slow call moves it.
    for (let i = 0; i < 990; i++) history.record(call("taskState.get", 2));
    for (let i = 0; i < 10; i++) history.record(call("taskState.get", 40));
    const p99 = () => history.recent().procedures[0]?.p99Ms.at(-1) ?? 0;
    expect(p99()).toBeGreaterThanOrEqual(2);
    expect(p99()).toBeLessThan(2 * 1.19);
    for (let i = 0; i < 2; i++) history.record(call("taskState.get", 40));
    expect(p99()).toBeGreaterThanOrEqual(40);
    expect(p99()).toBeLessThan(40 * 1.19);
  });
});
