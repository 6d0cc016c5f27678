// Memory per request is bounded: lists of large values, many at once, against the built server on
// PostgreSQL. Without the page byte budget one page of 1 000 values of 64 KB was a 65 MB answer, and ten
// concurrent lists took the server to 1.8 GB.
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { signToken, tokenKeys } from "@cairn/api";
import {
  emptyPostgresDatabase,
  postgresAvailable,
  spawnServer,
  stopAllServers,
  TEST_JWT_SECRET,
} from "@cairn/server/testing";
import { afterAll, describe, expect, it } from "vitest";
import { newTaskInstance, patientClient } from "./workers.ts";

const KEYS = 1_000;
/** Random base64 text: incompressible, 64 000 bytes as a JSON string (the value limit is 65 535). */
const bigValue = () => randomBytes(48_000).toString("base64").slice(0, 63_998);

function memoryOf(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(status)?.[1]);
  return { rssMb: kb("VmRSS") / 1024, peakMb: kb("VmHWM") / 1024 };
}

describe.skipIf(!postgresAvailable())("memory under large lists (PostgreSQL)", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    await stopAllServers();
    for (const cleanup of cleanups) await cleanup();
  });

  it("10 concurrent lists of 64 KB values keep the server under 600 MB; RSS comes back near its baseline", async () => {
    const database = await emptyPostgresDatabase("memory");
    cleanups.push(database.drop);
    const server = spawnServer({
      env: { DATABASE_URL: database.url, CAIRN_JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: "info" },
    });
    const url = await server.listening();
    const pid = server.child.pid!;
    const adminToken = await signToken(
      tokenKeys(TEST_JWT_SECRET),
      { sub: "memory-test", scope: "admin" },
      new Date(Date.now() + 3_600_000),
    );
    const { id, token } = await newTaskInstance(url, adminToken, {
      dagId: "memory",
      runId: "r",
      taskId: "t",
    });
    const worker = patientClient(url, token);
    // 10 at a time: the typed client batches concurrent calls into one request, which must stay under
    // the body limit (1 MiB by default).
    for (let from = 0; from < KEYS; from += 10) {
      await Promise.all(
        Array.from({ length: 10 }, (_, i) => worker.set(`k${String(from + i).padStart(4, "0")}`, bigValue())),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const baseline = memoryOf(pid).rssMb;
    writeFileSync(`/proc/${pid}/clear_refs`, "5"); // peak RSS starts again from now

    const listAll = async () => {
      let cursor: string | null = null;
      let items = 0;
      let largestPage = 0;
      do {
        const input = encodeURIComponent(JSON.stringify({ taskInstanceId: id, limit: 1000, cursor }));
        const res = await fetch(`${url}/trpc/taskState.list?input=${input}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        const body = await res.text();
        largestPage = Math.max(largestPage, body.length);
        const page = (
          JSON.parse(body) as { result: { data: { items: unknown[]; nextCursor: string | null } } }
        ).result.data;
        items += page.items.length;
        cursor = page.nextCursor;
      } while (cursor !== null);
      return { items, largestPage };
    };
    const lists = await Promise.all(Array.from({ length: 10 }, listAll));
    for (const list of lists) {
      expect(list.items).toBe(KEYS);
      expect(list.largestPage).toBeLessThan(4 * 1024 * 1024 + 70_000); // the budget and one value past it
    }
    const during = memoryOf(pid).peakMb;
    expect(during).toBeLessThan(600);

    // Freed memory goes back to the system when V8 shrinks its heap: an idle server does that after ~8-15 s
    // (later on a machine busy with other tests).
    const samples: number[] = [];
    for (let i = 0; i < 40 && (samples.at(-1) ?? Number.POSITIVE_INFINITY) - baseline >= 50; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      samples.push(memoryOf(pid).rssMb);
    }
    const shown = samples.map((mb) => mb.toFixed(0)).join(", ");
    console.log(
      `memory: baseline ${baseline.toFixed(0)} MB, peak during lists ${during.toFixed(0)} MB, then ${shown} MB`,
    );
    expect(
      samples.at(-1)! - baseline,
      `RSS after the lists: ${shown} MB; baseline ${baseline.toFixed(0)} MB`,
    ).toBeLessThan(50);
    server.child.kill("SIGTERM");
    expect((await server.exit).code).toBe(0);
  }, 240_000);
});
