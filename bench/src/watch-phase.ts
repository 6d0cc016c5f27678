// --watch (issue 12): what watching costs writers, and how fast a write reaches 1 000 watchers.
//
// Cost: W1 put c=32 on one fresh P server in three states, interleaved per round: the notify triggers
// dropped (the schema before watch existed), present but disabled (watch support, nobody watching: every
// deployment without watchers), and enabled with 100 open streams watching other task instances' keys
// that the puts never write. Ratios are to the first state, medians over rounds.
//
// W10: 1 000 streams on one key of one task instance; the server's RSS before and after they are open
// (memory per watcher), then writes 200 ms apart (the first five warm up, not counted) and, for each, the
// time from sending it until each stream had it, read off plain sockets.
// A slow watcher: a stream that reads nothing during a put run; puts per second beside one without it.
import { readdir, readFile } from "node:fs/promises";
import net from "node:net";
import { join } from "node:path";
import { median, percentile, sleep } from "./common.ts";
import { withClient } from "./db.ts";
import { measure, runAutocannon } from "./load.ts";
import type { PhaseContext } from "./phases.ts";
import { REPO_ROOT, sampleProc } from "./procs.ts";
import { startServer } from "./servers.ts";
import type { Workload } from "./workloads.ts";

export interface WatchResult {
  rounds: { dropped: number; disabled: number; watched: number; slowWatcher: number }[];
  ratios: { disabled: number; watched: number; slowWatcher: number };
  w10: {
    watchers: number;
    rssPerWatcherKb: number;
    /** From opening the first stream to every stream's `synced` (1 000 registrations at once). */
    openAllMs: number;
    writes: number;
    p50Ms: number;
    p99Ms: number;
    maxMs: number;
    /** CPU per write delivered to every watcher: the server's, and the load generator's (reading 1 000 streams). */
    serverCpuMsPerWrite: number;
    generatorCpuMsPerWrite: number;
  };
}

const TRIGGERS = {
  task_state: ["cairn_task_state_notify_write", "cairn_task_state_notify_delete"],
  asset_state: ["cairn_asset_state_notify_write", "cairn_asset_state_notify_delete"],
};

/** The migration's CREATE TRIGGER statements, to put back what the "dropped" state removes. */
async function triggerDefinitions(): Promise<string[]> {
  const dir = join(REPO_ROOT, "prisma", "migrations");
  const folder = (await readdir(dir)).find((name) => name.endsWith("_watch"));
  const sql = await readFile(join(dir, folder!, "migration.sql"), "utf8");
  return [...sql.matchAll(/CREATE TRIGGER [\s\S]*?;/g)].map((m) => m[0]);
}

/**
 * An SSE stream on a plain socket: each `data:` line goes to onData. `close` ends it; `pause` stops
 * reading (the kernel's buffers fill, then the server's). A socket and a line split per chunk, not
 * fetch's web streams, so that reading 1 000 streams costs the load generator little beside the server.
 */
function openStream(url: string, bearer: string, onData: (data: string) => void) {
  const { hostname, port, pathname, search } = new URL(url);
  const socket = net.connect({ host: hostname, port: Number(port), noDelay: true });
  socket.setEncoding("utf8");
  socket.write(
    `GET ${pathname}${search} HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: ${bearer}\r\nAccept: text/event-stream\r\n\r\n`,
  );
  let buffer = "";
  socket.on("data", (chunk: string) => {
    buffer += chunk;
    let start = 0;
    for (let newline = buffer.indexOf("\n"); newline >= 0; newline = buffer.indexOf("\n", start)) {
      if (buffer.startsWith("data: ", start)) onData(buffer.slice(start + 6, newline));
      start = newline + 1;
    }
    buffer = buffer.slice(start);
  });
  socket.on("error", () => {});
  return {
    pause: () => socket.pause(),
    close: () => socket.destroy(),
  };
}

const watchUrl = (base: string, input: object) =>
  `${base}/trpc/taskState.watch?input=${encodeURIComponent(JSON.stringify(input))}`;

export async function watchPhase(
  ctx: PhaseContext,
  opts: { rounds: number; seconds: number; put: Workload },
): Promise<WatchResult> {
  const { target } = ctx;
  const last = target.instances - 1;
  const server = await startServer("P", {
    databaseUrl: ctx.databaseUrl,
    bearer: target.bearer[last]!,
    taskInstanceId: target.ids[last]!,
    // W10 holds 1 000 streams open, each a connection, beside the load.
    env: { CAIRN_MAX_CONNECTIONS: "5000" },
  });
  const definitions = await triggerDefinitions();
  const sql = (text: string) => withClient(ctx.databaseUrl, (c) => c.query(text));
  const setTriggers = async (state: "dropped" | "disabled") => {
    await sql("DELETE FROM watch_interest");
    for (const [table, names] of Object.entries(TRIGGERS)) {
      for (const name of names) await sql(`DROP TRIGGER IF EXISTS ${name} ON ${table}`);
    }
    if (state === "disabled") {
      for (const definition of definitions) await sql(definition);
      for (const [table, names] of Object.entries(TRIGGERS)) {
        for (const name of names) await sql(`ALTER TABLE ${table} DISABLE TRIGGER ${name}`);
      }
    }
  };
  const put = () =>
    measure(server.child.pid, ctx.database, () =>
      runAutocannon({ ...target, url: server.url }, opts.put, { seconds: opts.seconds }),
    );
  /** Streams on `count` task instances (not the ones W10 uses), each on a key the puts never write. */
  const watchOthers = async (count: number) => {
    let synced = 0;
    const streams = Array.from({ length: count }, (_, i) => {
      const index = last - 1 - i;
      return openStream(
        watchUrl(server.url, { taskInstanceId: target.ids[index], key: "watched-elsewhere" }),
        target.bearer[index]!,
        (data) => {
          if (data.includes('"synced"')) synced++;
        },
      );
    });
    while (synced < count) await sleep(20);
    return streams;
  };

  const rounds: WatchResult["rounds"] = [];
  try {
    await put(); // warm-up: JIT, connection pools, the table's pages in cache
    for (let round = 0; round < opts.rounds; round++) {
      await setTriggers("dropped");
      const dropped = (await put()).opsPerSec;
      await setTriggers("disabled");
      const disabled = (await put()).opsPerSec;
      const streams = await watchOthers(100);
      const watched = (await put()).opsPerSec;
      for (const stream of streams) stream.close();
      // A slow watcher: one stream on a key the puts write (a hot instance), which stops reading at once.
      const hot = opts.put.putPrefix;
      const slow = openStream(
        watchUrl(server.url, { taskInstanceId: target.ids[0], prefix: hot }),
        target.bearer[0]!,
        () => {},
      );
      slow.pause();
      const slowWatcher = (await put()).opsPerSec;
      slow.close();
      rounds.push({ dropped, disabled, watched, slowWatcher });
      ctx.log(
        `watch round ${round + 1}: put c=32 triggers dropped ${dropped.toFixed(0)}/s, disabled ${disabled.toFixed(0)}/s, 100 watchers ${watched.toFixed(0)}/s, a slow watcher ${slowWatcher.toFixed(0)}/s`,
      );
    }

    // W10: 1 000 streams on one key.
    const w10Index = last - 200;
    const count = 1_000;
    await sleep(500);
    const rssBefore = sampleProc(server.child.pid).rssKb;
    const opening = performance.now();
    const arrivals: number[][] = [];
    let synced = 0;
    const streams = Array.from({ length: count }, () =>
      openStream(
        watchUrl(server.url, { taskInstanceId: target.ids[w10Index], key: "w10" }),
        target.bearer[w10Index]!,
        (data) => {
          if (data.includes('"synced"')) synced++;
          const write = /"value":(\d+)/.exec(data)?.[1];
          if (write === undefined || !data.includes('"op":"set"')) return;
          const at = performance.now();
          const list = arrivals[Number(write)] ?? [];
          list.push(at);
          arrivals[Number(write)] = list;
        },
      ),
    );
    while (synced < count) await sleep(20);
    const openAllMs = performance.now() - opening;
    await sleep(500);
    const rssAfter = sampleProc(server.child.pid).rssKb;
    // The first writes compile the fan-out path (JIT): sent, not counted.
    const warmUp = 5;
    const writes = 50;
    const sentAt: number[] = [];
    let serverCpuBefore = 0;
    let generatorCpuBefore = process.cpuUsage();
    for (let i = 0; i < warmUp + writes; i++) {
      if (i === warmUp) {
        await sleep(500);
        serverCpuBefore = sampleProc(server.child.pid).cpuUs;
        generatorCpuBefore = process.cpuUsage();
      }
      sentAt[i] = performance.now();
      const response = await fetch(`${server.url}/trpc/taskState.set`, {
        method: "POST",
        headers: { authorization: target.bearer[w10Index]!, "content-type": "application/json" },
        body: JSON.stringify({ taskInstanceId: target.ids[w10Index], key: "w10", value: i }),
      });
      await response.arrayBuffer();
      await sleep(200);
    }
    await sleep(1_000);
    const serverCpuUs = sampleProc(server.child.pid).cpuUs - serverCpuBefore;
    const generatorCpu = process.cpuUsage(generatorCpuBefore);
    const latencies = sentAt
      .slice(warmUp)
      .flatMap((sent, i) => (arrivals[warmUp + i] ?? []).map((at) => at - sent))
      .sort((a, b) => a - b);
    const delivered = latencies.length;
    for (const stream of streams) stream.close();
    const ratio = (key: "disabled" | "watched" | "slowWatcher") =>
      median(rounds.map((r) => r[key] / r.dropped));
    return {
      rounds,
      ratios: { disabled: ratio("disabled"), watched: ratio("watched"), slowWatcher: ratio("slowWatcher") },
      w10: {
        watchers: count,
        rssPerWatcherKb: (rssAfter - rssBefore) / count,
        openAllMs,
        writes: delivered === writes * count ? writes : delivered / count,
        p50Ms: percentile(latencies, 50),
        p99Ms: percentile(latencies, 99),
        maxMs: latencies.at(-1) ?? Number.NaN,
        serverCpuMsPerWrite: serverCpuUs / 1000 / writes,
        generatorCpuMsPerWrite: (generatorCpu.user + generatorCpu.system) / 1000 / writes,
      },
    };
  } finally {
    await setTriggers("disabled").catch(() => {});
    await server.child.stop();
  }
}
