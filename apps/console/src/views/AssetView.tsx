// One asset: uri, group, active, the tasks that read (inlets) and write (outlets) it, and its state; each
// key's last writer links to that task instance's state.
import { useQuery } from "@tanstack/react-query";
import { ErrorNote } from "../components/ErrorNote.tsx";
import { StatePanel } from "../components/StatePanel.tsx";
import { href, navigate, type Route } from "../lib/route.ts";
import { useTRPC } from "../lib/trpc.ts";

export function AssetView({ route }: { route: Extract<Route, { view: "asset" }> }) {
  const trpc = useTRPC();
  // The list's search also matches other names containing this one: pick the exact name.
  const found = useQuery(trpc.admin.assets.list.queryOptions({ search: route.name, limit: 1000 }));
  const asset = found.data?.items.find((item) => item.name === route.name);
  return (
    <>
      <nav aria-label="Breadcrumb" className="crumbs">
        <a href={href({ view: "assets", search: "", active: "" })}>Assets</a> ›{" "}
        <span aria-current="page">{route.name}</span>
      </nav>
      <h1>
        <span className="label">Asset</span> {route.name}
      </h1>
      {found.error && <ErrorNote error={found.error} />}
      {found.data && !asset && <p role="status">There is no asset named “{route.name}”.</p>}
      {asset && (
        <>
          <dl className="facts">
            <dt>Uri</dt>
            <dd className="uri">{asset.uri}</dd>
            <dt>Group</dt>
            <dd>{asset.group || "–"}</dd>
            <dt>Active</dt>
            <dd>{asset.active ? "yes" : "no (workers cannot read or write its state)"}</dd>
            <dt>Read by (inlets)</dt>
            <dd>{tasks(asset.inlets)}</dd>
            <dt>Written by (outlets)</dt>
            <dd>{tasks(asset.outlets)}</dd>
          </dl>
          {asset.active ? (
            <StatePanel
              scope={{ plane: "asset", name: asset.name }}
              selectedKey={route.key}
              onSelect={(key) => navigate({ ...route, key })}
              writerLink={(writer) =>
                writer.dagId && writer.runId && writer.taskId
                  ? href({
                      view: "task",
                      dagId: writer.dagId,
                      runId: writer.runId,
                      taskId: writer.taskId,
                      mapIndex: writer.mapIndex ?? -1,
                    })
                  : undefined
              }
            />
          ) : (
            <p>An inactive asset keeps its state but nobody may read it until an admin activates it again.</p>
          )}
        </>
      )}
    </>
  );
}

function tasks(refs: { dagId: string; taskId: string }[]): string {
  return refs.length ? refs.map((ref) => `${ref.dagId}.${ref.taskId}`).join(", ") : "none";
}
