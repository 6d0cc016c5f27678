// Views live in the URL's fragment (#/runs/dag/run/task/-1?key=k): links, back and reload work, and the
// server needs to serve only one page. Path segments are URI-encoded (run ids hold ':' and '+').
import { useSyncExternalStore } from "react";

export type Route =
  | { view: "overview" }
  | { view: "runs"; dagId: string; runIdPrefix: string }
  | { view: "run"; dagId: string; runId: string }
  | { view: "task"; dagId: string; runId: string; taskId: string; mapIndex: number; key?: string | undefined }
  | { view: "assets"; search: string; active: "" | "true" | "false" }
  | { view: "asset"; name: string; key?: string | undefined }
  | { view: "cleanup" }
  | { view: "not-found"; hash: string };

const enc = encodeURIComponent;

export function href(route: Route): string {
  switch (route.view) {
    case "overview":
      return "#/";
    case "runs":
      return `#/runs${query({ dag: route.dagId, run: route.runIdPrefix })}`;
    case "run":
      return `#/runs/${enc(route.dagId)}/${enc(route.runId)}`;
    case "task":
      return `#/runs/${enc(route.dagId)}/${enc(route.runId)}/${enc(route.taskId)}/${route.mapIndex}${query({ key: route.key })}`;
    case "assets":
      return `#/assets${query({ search: route.search, active: route.active })}`;
    case "asset":
      return `#/assets/${enc(route.name)}${query({ key: route.key })}`;
    case "cleanup":
      return "#/cleanup";
    case "not-found":
      return route.hash;
  }
}

function query(params: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value) search.set(name, value);
  const text = search.toString();
  return text ? `?${text}` : "";
}

export function parseRoute(hash: string): Route {
  const [path = "", search = ""] = hash.replace(/^#/, "").split("?", 2);
  const params = new URLSearchParams(search);
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const [first, ...rest] = parts;
  if (first === undefined) return { view: "overview" };
  if (first === "runs") {
    const [dagId, runId, taskId, mapIndex] = rest;
    if (dagId === undefined) {
      return { view: "runs", dagId: params.get("dag") ?? "", runIdPrefix: params.get("run") ?? "" };
    }
    if (runId !== undefined && taskId === undefined) return { view: "run", dagId, runId };
    if (runId !== undefined && taskId !== undefined && Number.isInteger(Number(mapIndex))) {
      return {
        view: "task",
        dagId,
        runId,
        taskId,
        mapIndex: Number(mapIndex),
        key: params.get("key") ?? undefined,
      };
    }
  }
  if (first === "assets") {
    const [name] = rest;
    if (name === undefined) {
      const active = params.get("active");
      return {
        view: "assets",
        search: params.get("search") ?? "",
        active: active === "true" || active === "false" ? active : "",
      };
    }
    return { view: "asset", name, key: params.get("key") ?? undefined };
  }
  if (first === "cleanup" && rest.length === 0) return { view: "cleanup" };
  return { view: "not-found", hash };
}

function subscribe(onChange: () => void): () => void {
  window.addEventListener("hashchange", onChange);
  return () => window.removeEventListener("hashchange", onChange);
}

export function useRoute(): Route {
  return parseRoute(useSyncExternalStore(subscribe, () => window.location.hash));
}

/** Puts a view's filters in the URL as they are typed: shareable and kept on back, without a history entry per key. */
export function replaceRoute(route: Route): void {
  const target = href(route);
  if (target !== window.location.hash) window.history.replaceState(null, "", target);
}

/** Moves to a view (a new history entry, as a link would). */
export function navigate(route: Route): void {
  window.location.hash = href(route);
}
