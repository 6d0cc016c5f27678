// A dag run's task instances (the current try of each task and map index), with their state and keys.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Clock } from "../components/Clock.tsx";

import { Pager, useCursorPages } from "../components/Pager.tsx";
import { QueryStatus } from "../components/QueryStatus.tsx";
import { SearchField } from "../components/SearchField.tsx";
import { count } from "../lib/format.ts";
import { href, type Route } from "../lib/route.ts";
import { useTRPC } from "../lib/trpc.ts";

const LIMIT = 100;

export function DagRunView({ route }: { route: Extract<Route, { view: "run" }> }) {
  const trpc = useTRPC();
  const { dagId, runId } = route;
  const [taskIdPrefix, setTaskIdPrefix] = useState("");
  const pages = useCursorPages(taskIdPrefix);
  const tasks = useQuery({
    ...trpc.admin.taskInstances.list.queryOptions({
      dagId,
      runId,
      taskIdPrefix: taskIdPrefix || undefined,
      limit: LIMIT,
      cursor: pages.cursor,
    }),
    placeholderData: keepPreviousData,
  });

  return (
    <>
      <nav aria-label="Breadcrumb" className="crumbs">
        <a href={href({ view: "runs", dagId: "", runIdPrefix: "" })}>Dag runs</a> ›{" "}
        <a href={href({ view: "runs", dagId, runIdPrefix: "" })}>{dagId}</a> ›{" "}
        <span aria-current="page">{runId}</span>
      </nav>
      <h1>
        <span className="label">Run</span> {runId}
      </h1>
      <form className="filters" onSubmit={(event) => event.preventDefault()}>
        <SearchField
          id="filter-task"
          label="Task id starts with"
          value={taskIdPrefix}
          onChange={setTaskIdPrefix}
        />
      </form>
      <QueryStatus query={tasks} />
      {tasks.data && (
        <>
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Task instances of run {runId}</caption>
              <thead>
                <tr>
                  <th scope="col">Task</th>
                  <th scope="col" className="num">
                    Map index
                  </th>
                  <th scope="col">State</th>
                  <th scope="col" className="num">
                    Try
                  </th>
                  <th scope="col" className="num">
                    Keys
                  </th>
                  <th scope="col">Updated</th>
                </tr>
              </thead>
              <tbody>
                {tasks.data.items.map((task) => (
                  <tr key={task.id}>
                    <th scope="row">
                      <a
                        href={href({
                          view: "task",
                          dagId,
                          runId,
                          taskId: task.taskId,
                          mapIndex: task.mapIndex,
                        })}
                      >
                        {task.taskId}
                      </a>
                    </th>
                    <td className="num">{task.mapIndex >= 0 ? task.mapIndex : "–"}</td>
                    <td>
                      <span className={`ti-state ti-${task.state ?? "none"}`}>
                        {task.state ?? "no state"}
                      </span>
                    </td>
                    <td className="num">{task.tryNumber}</td>
                    <td className="num">{count(task.keys)}</td>
                    <td>
                      <Clock at={task.updatedAt} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager pages={pages} page={tasks.data} what="task instances" />
        </>
      )}
    </>
  );
}
