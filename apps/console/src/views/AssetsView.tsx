// Assets by name: search in name or uri, filter active/inactive, paged.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";

import { Pager, useCursorPages } from "../components/Pager.tsx";
import { QueryStatus } from "../components/QueryStatus.tsx";
import { SearchField } from "../components/SearchField.tsx";
import { count } from "../lib/format.ts";
import { href, type Route, replaceRoute } from "../lib/route.ts";
import { useTRPC } from "../lib/trpc.ts";

const LIMIT = 50;

export function AssetsView({ route }: { route: Extract<Route, { view: "assets" }> }) {
  const trpc = useTRPC();
  const [search, setSearch] = useState(route.search);
  const [active, setActive] = useState(route.active);
  useEffect(() => replaceRoute({ view: "assets", search, active }), [search, active]);
  const filter = {
    search: search.trim() || undefined,
    active: active === "" ? undefined : active === "true",
  };
  const pages = useCursorPages(JSON.stringify(filter));
  const assets = useQuery({
    ...trpc.admin.assets.list.queryOptions({ ...filter, limit: LIMIT, cursor: pages.cursor }),
    placeholderData: keepPreviousData,
  });

  return (
    <>
      <h1>Assets</h1>
      <form className="filters" onSubmit={(event) => event.preventDefault()}>
        <SearchField id="filter-search" label="Name or uri contains" value={search} onChange={setSearch} />
        <label htmlFor="filter-active">Active</label>
        <select
          id="filter-active"
          value={active}
          onChange={(event) => setActive(event.target.value as typeof active)}
        >
          <option value="">all</option>
          <option value="true">active</option>
          <option value="false">inactive</option>
        </select>
      </form>
      <QueryStatus query={assets} />
      {assets.data && (
        <>
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Assets by name</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Uri</th>
                  <th scope="col">Group</th>
                  <th scope="col">Active</th>
                  <th scope="col" className="num">
                    Keys
                  </th>
                  <th scope="col" className="num">
                    Readers
                  </th>
                  <th scope="col" className="num">
                    Writers
                  </th>
                </tr>
              </thead>
              <tbody>
                {assets.data.items.map((asset) => (
                  <tr key={asset.name}>
                    <th scope="row">
                      <a href={href({ view: "asset", name: asset.name })}>{asset.name}</a>
                    </th>
                    <td className="uri">{asset.uri}</td>
                    <td>{asset.group || "–"}</td>
                    <td>{asset.active ? "yes" : "no"}</td>
                    <td className="num">{count(asset.keys)}</td>
                    <td className="num">{asset.inlets.length}</td>
                    <td className="num">{asset.outlets.length}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager pages={pages} page={assets.data} what="assets" />
        </>
      )}
    </>
  );
}
