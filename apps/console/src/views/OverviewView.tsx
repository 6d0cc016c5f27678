// Overview: the counts of admin.stats, and this server's calls per second and p99 latency per procedure
// over the last 15 minutes (admin.metrics.recent), refreshed live.
import { useQuery } from "@tanstack/react-query";
import { ErrorNote } from "../components/ErrorNote.tsx";
import { LineChart, type Series, seriesColor } from "../components/LineChart.tsx";
import { count } from "../lib/format.ts";
import { href } from "../lib/route.ts";
import { useTRPC } from "../lib/trpc.ts";

/** Lines drawn; the table below lists every procedure. */
const CHARTED = 6;
const LAST_MINUTE = 6;

export function OverviewView() {
  const trpc = useTRPC();
  // admin.stats counts every row (about half a second at a million keys): every 30 s is plenty.
  const stats = useQuery(
    trpc.admin.stats.queryOptions(undefined, { refetchInterval: 30_000, staleTime: 25_000 }),
  );
  const recent = useQuery(
    trpc.admin.metrics.recent.queryOptions(undefined, { refetchInterval: 5_000, staleTime: 0 }),
  );

  const procedures = [...(recent.data?.procedures ?? [])]
    .map((line) => ({ ...line, total: line.calls.reduce((sum, n) => sum + n, 0) }))
    .sort((a, b) => b.total - a.total);
  const interval = recent.data?.intervalSeconds ?? 10;
  const charted = procedures.slice(0, CHARTED);
  const rate: Series[] = charted.map((line) => ({
    label: line.path,
    values: line.calls.map((n) => n / interval),
  }));
  const p99: Series[] = charted.map((line) => ({ label: line.path, values: line.p99Ms }));

  return (
    <>
      <h1>Overview</h1>
      {stats.error && <ErrorNote error={stats.error} />}
      <ul className="cards" aria-busy={stats.isPending}>
        <Card
          label="Dag runs"
          value={stats.data?.dagRuns}
          link={href({ view: "runs", dagId: "", runIdPrefix: "" })}
        />
        <Card label="Task instances" value={stats.data?.taskInstances} />
        <Card label="Task state keys" value={stats.data?.taskKeys} />
        <Card
          label="Assets"
          value={stats.data?.assets}
          link={href({ view: "assets", search: "", active: "" })}
        />
        <Card label="Asset state keys" value={stats.data?.assetKeys} />
        <Card label="Expiring within 24 h" value={stats.data?.expiringWithin24h} />
        <Card
          label="Expired, awaiting cleanup"
          value={stats.data?.expiredAwaitingCleanup}
          link={href({ view: "cleanup" })}
        />
      </ul>
      <section aria-labelledby="traffic">
        <h2 id="traffic">Calls on this server, last 15 minutes</h2>
        {recent.error && <ErrorNote error={recent.error} />}
        {recent.data && procedures.length === 0 && <p>No calls yet.</p>}
        {procedures.length > 0 && (
          <>
            <div className="charts">
              <LineChart title="Calls per second" series={rate} unit="calls/s" />
              <LineChart title="p99 latency (ms)" series={p99} unit="ms" />
            </div>
            <div className="table-wrap">
              <table>
                <caption>Per procedure (the last minute, and the whole 15 minutes)</caption>
                <thead>
                  <tr>
                    <th scope="col">Procedure</th>
                    <th scope="col" className="num">
                      Calls/s, last minute
                    </th>
                    <th scope="col" className="num">
                      p99 ms, worst 10 s of the last minute
                    </th>
                    <th scope="col" className="num">
                      Calls, 15 min
                    </th>
                    <th scope="col" className="num">
                      Errors, 15 min
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {procedures.map((line, index) => {
                    const lastCalls = line.calls.slice(-LAST_MINUTE).reduce((sum, n) => sum + n, 0);
                    const lastP99 = line.p99Ms.slice(-LAST_MINUTE).filter((v): v is number => v !== null);
                    return (
                      <tr key={line.path}>
                        <th scope="row">
                          {index < CHARTED && (
                            <span
                              className="swatch"
                              style={{ background: seriesColor(index) }}
                              aria-hidden="true"
                            />
                          )}
                          <code>{line.path}</code>
                        </th>
                        <td className="num">{(lastCalls / (LAST_MINUTE * interval)).toFixed(1)}</td>
                        <td className="num">{lastP99.length ? Math.max(...lastP99) : "–"}</td>
                        <td className="num">{count(line.total)}</td>
                        <td className="num">{count(line.errors.reduce((sum, n) => sum + n, 0))}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          </>
        )}
      </section>
    </>
  );
}

function Card({ label, value, link }: { label: string; value: number | undefined; link?: string }) {
  const figure = value === undefined ? "…" : count(value);
  return (
    <li className="card">
      <span className="card-value">{link ? <a href={link}>{figure}</a> : figure}</span>
      <span className="card-label">{label}</span>
    </li>
  );
}
