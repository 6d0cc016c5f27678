-- CreateIndex
CREATE INDEX "dag_run_created_at_id_idx" ON "dag_run"("created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "dag_run_dag_id_created_at_id_idx" ON "dag_run"("dag_id", "created_at" DESC, "id" DESC);
