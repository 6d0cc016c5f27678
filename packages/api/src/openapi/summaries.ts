// One line per procedure for the OpenAPI document (docs/contract.md §4 says more).
import type { ProcedurePath } from "../procedure-paths.ts";

export const SUMMARIES = {
  "taskState.get": "Read a key of the task instance's state",
  "taskState.set": "Write a key (upsert; compare-and-set with ifVersion)",
  "taskState.delete": "Delete a key (deleted: false when it did not exist)",
  "taskState.clear": "Delete every key of the task (its map index, or all of them)",
  "taskState.list": "List keys, a page at a time",
  "taskState.watch": "Watch the task's state: a snapshot, synced, then every change (Server-Sent Events)",
  "assetState.get": "Read a key of an asset's state",
  "assetState.set": "Write a key of an asset's state (upsert; compare-and-set with ifVersion)",
  "assetState.delete": "Delete a key of an asset's state",
  "assetState.clear": "Delete every key of an asset's state",
  "assetState.list": "List an asset's keys, a page at a time",
  "assetState.watch": "Watch an asset's state: a snapshot, synced, then every change (Server-Sent Events)",
  "admin.taskInstances.create":
    "Register the first try of a task instance (and its dag run, inlets, outlets)",
  "admin.taskInstances.retry": "Register a new try (a new id, the same state)",
  "admin.taskInstances.setState": "Set a task instance's Airflow state (success may clear its state)",
  "admin.taskInstances.clear": "Reset a task instance for a fresh start (and delete its state unless kept)",
  "admin.taskState.list": "List a task's keys by dag run, task and map index, with their total",
  "admin.taskState.get": "Read a key of a task's state by address",
  "admin.taskState.set": "Write a key of a task's state by address",
  "admin.taskState.delete": "Delete a key of a task's state by address",
  "admin.taskState.clear": "Delete every key of a task's state by address",
  "admin.assetState.list": "List an asset's keys with who wrote each last, and their total",
  "admin.assetState.get": "Read a key of any asset's state",
  "admin.assetState.set": "Write a key of any asset's state (recorded as an admin write)",
  "admin.assetState.delete": "Delete a key of any asset's state",
  "admin.assetState.clear": "Delete every key of any asset's state",
  "admin.dagRuns.list": "List dag runs, newest first, with their task instance and live key counts",
  "admin.dagRuns.delete": "Delete a dag run with its task instances and task state",
  "admin.assets.upsert": "Create an asset, or update and re-activate it",
  "admin.assets.setActive": "Activate or deactivate an asset (an inactive asset's state cannot be used)",
  "admin.assets.delete": "Delete an asset with its state",
  "admin.tokens.issue": "Issue an execution token for the current try of a task instance",
  "admin.cleanup.run": "Delete expired state now",
  "admin.taskInstances.list":
    "List a dag run's task instances (the current try of each) with their live key counts",
  "admin.assets.list": "List assets by name, with their live keys and the tasks that read and write them",
  "admin.stats": "Count dag runs, task instances, assets, live keys and expiring state",
  "admin.session": "Who the token belongs to, its scope and expiry, and the server's value limit",
  "admin.metrics.recent": "Calls, errors and p99 latency per procedure over the last 15 minutes",
  "admin.cleanup.preview": "Show what a cleanup would delete now",
  "admin.watch":
    "Watch an asset's state, a dag run's or a dag's task state, or everything; events say where (SSE)",
} satisfies Record<ProcedurePath, string>;

/** Tags group the operations as the router nests them. */
export const TAGS: { name: string; description: string }[] = [
  {
    name: "taskState",
    description:
      "Execution plane: a task's state, addressed by task instance id; shared by every try of the task.",
  },
  {
    name: "assetState",
    description:
      "Execution plane: an asset's state, shared by every task that declares the asset as inlet or outlet.",
  },
  { name: "admin.taskInstances", description: "Admin plane: task instances (tries) and their lifecycle." },
  {
    name: "admin.taskState",
    description: "Admin plane: task state addressed by dag run, task and map index.",
  },
  { name: "admin.assetState", description: "Admin plane: any asset's state, with writer provenance." },
  { name: "admin.dagRuns", description: "Admin plane: dag runs." },
  { name: "admin.assets", description: "Admin plane: assets." },
  { name: "admin.tokens", description: "Admin plane: execution tokens." },
  { name: "admin.cleanup", description: "Admin plane: expired state." },
];
