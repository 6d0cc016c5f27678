// Dag runs, newest first: filter by dag id (exact) or run id prefix, paged.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { Clock } from "../components/Clock.tsx";

import { Pager, useCursorPages } from "../components/Pager.tsx";
import { QueryStatus } from "../components/QueryStatus.tsx";
import { SearchField } from "../components/SearchField.tsx";
import { count } from "../lib/format.ts";
import { href, type Route, replaceRoute } from "../lib/route.ts";
import { useTRPC } from "../lib/trpc.ts";

const LIMIT = 50;

export function DagRunsView({ route }: { route: Extract<Route, { view: "runs" }> }) {
  const trpc = useTRPC();
  const [dagId, setDagId] = useState(route.dagId);
  const [runIdPrefix, setRunIdPrefix] = useState(route.runIdPrefix);
  useEffect(() => replaceRoute({ view: "runs", dagId: dagId.trim(), runIdPrefix }), [dagId, runIdPrefix]);
  const filter = { dagId: dagId.trim() || undefined, runIdPrefix: runIdPrefix || undefined };
  const pages = useCursorPages(JSON.stringify(filter));
  const runs = useQuery({
    ...trpc.admin.dagRuns.list.queryOptions({ ...filter, limit: LIMIT, cursor: pages.cursor }),
    placeholderData: keepPreviousData,
  });

  return (
    <>
      <h1>Dag runs</h1>
      <form className="filters" onSubmit={(event) => event.preventDefault()}>
        <SearchField id="filter-dag" label="Dag id" value={dagId} onChange={setDagId} />
        <SearchField
          id="filter-run"
          label="Run id starts with"
          value={runIdPrefix}
          onChange={setRunIdPrefix}
        />
      </form>
      <QueryStatus query={runs} />
      {runs.data && (
        <>
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Dag runs, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Dag</th>
                  <th scope="col">Run</th>
                  <th scope="col">Created</th>
                  <th scope="col" className="num">
                    Task instances
                  </th>
                  <th scope="col" className="num">
                    Keys
                  </th>
                </tr>
              </thead>
              <tbody>
                {runs.data.items.map((run) => (
                  <tr key={`${run.dagId}\u0000${run.runId}`}>
                    <td>
                      <button
                        type="button"
                        className="link"
                        onClick={() => setDagId(run.dagId)}
                        title={`Only runs of ${run.dagId}`}
                      >
                        {run.dagId}
                      </button>
                    </td>
                    <th scope="row">
                      <a href={href({ view: "run", dagId: run.dagId, runId: run.runId })}>{run.runId}</a>
                    </th>
                    <td>
                      <Clock at={run.createdAt} />
                    </td>
                    <td className="num">{count(run.taskInstances)}</td>
                    <td className="num">{count(run.keys)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager pages={pages} page={runs.data} what="dag runs" />
        </>
      )}
    </>
  );
}
