// A task instance's state (by dag, run, task and map index): its keys and the selected key.
import { StatePanel } from "../components/StatePanel.tsx";
import { href, navigate, type Route } from "../lib/route.ts";

export function TaskStateView({ route }: { route: Extract<Route, { view: "task" }> }) {
  const { dagId, runId, taskId, mapIndex } = route;
  const mapped = mapIndex >= 0 ? `[${mapIndex}]` : "";
  return (
    <>
      <nav aria-label="Breadcrumb" className="crumbs">
        <a href={href({ view: "runs", dagId: "", runIdPrefix: "" })}>Dag runs</a> ›{" "}
        <a href={href({ view: "runs", dagId, runIdPrefix: "" })}>{dagId}</a> ›{" "}
        <a href={href({ view: "run", dagId, runId })}>{runId}</a> ›{" "}
        <span aria-current="page">
          {taskId}
          {mapped}
        </span>
      </nav>
      <h1>
        <span className="label">Task</span> {taskId}
        {mapped}
      </h1>
      <StatePanel
        scope={{ plane: "task", dagId, runId, taskId, mapIndex }}
        selectedKey={route.key}
        onSelect={(key) => navigate({ ...route, key })}
      />
    </>
  );
}
