"""Figure 10 of bench/run.py: the PostgreSQL sink against the database's own
ingestion ceiling and against what a user would write today.

Three whole processes load the same rows (customer_id bigint, p_stay real,
p_churn real) into a fresh table of a PostgreSQL 15 started here (the test
suite's server: Unix socket only, fsync off for all three alike):
  - nightshift: the light job, Parquet in, scored, `output.format: postgres`
    (mode insert, so no key to maintain on any side);
  - `psql -c "\\copy ... FROM 'preds.csv' CSV HEADER"`: the predictions,
    already computed, from CSV: the server's ingestion ceiling (text COPY);
  - pandas: read the same CSV and `DataFrame.to_sql` (SQLAlchemy + psycopg2,
    Debian's python3-sqlalchemy and python3-psycopg2), chunksize 10,000.
Runs interleaved; each figure is a median of --repeat runs."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests/e2e"))
from pg_fixture import PASSWORD, PgServer  # noqa: E402  (the test suite's real server)

PANDAS = r"""
import sys, pandas as pd, sqlalchemy
url, csv_path = sys.argv[1], sys.argv[2]
df = pd.read_csv(csv_path, dtype={"customer_id": "int64", "p_stay": "float32", "p_churn": "float32"})
engine = sqlalchemy.create_engine(url)
df.to_sql("preds_pandas", engine, schema="analytics", if_exists="append", index=False, chunksize=10000)
"""

TABLE_DDL = "CREATE TABLE analytics.{} (customer_id bigint, p_stay real, p_churn real)"


def job_text(data, model, batch, threads, url):
    return f"""name: bench-pg
input:
  path: {data}
  key: customer_id
model:
  path: {model}
  threads: {threads}
  inputs:
    - name: features
      columns: [tenure, monthly_charges, total_charges, support_calls, contract_months, late_payments, data_gb, age]
  outputs:
    - name: probabilities
      columns: [p_stay, p_churn]
batch:
  size: {batch}
output:
  format: postgres
  url: "{url}"
  table: analytics.preds_ns
  mode: insert
  keep: [customer_id]
run:
  shard_rows: 131072
"""


def fig10_postgres(a, R, light, data, rows, ns, py, timed, sh, med, spread, fmt_rate):
    R.add("", "## 10. PostgreSQL sink: light job into PostgreSQL ÷ `psql \\copy`, and ÷ pandas `to_sql`",
          f"{rows:,} rows; nightshift scores them (batch {a.batch}, threads {a.threads}) and writes "
          "`customer_id, p_stay, p_churn` into a new table (mode insert); `psql \\copy` loads the same "
          "predictions from CSV; pandas reads that CSV and calls `DataFrame.to_sql` (chunksize 10,000). "
          "Whole processes, wall time; each side drops and recreates its table first.", "",
          "| contender | rows/s | nightshift ÷ it | range (paired) |", "| --- | --- | --- | --- |")
    root = tempfile.mkdtemp(prefix="ns_bench_pg_")
    pg = PgServer(root)
    pg.start()
    try:
        work = os.path.join(root, "work")
        os.makedirs(work)
        job = os.path.join(work, "job.yaml")
        with open(job, "w") as f:
            f.write(job_text(data, light, a.batch, a.threads, pg.url(with_password=False)))
        env = dict(os.environ, PGPASSWORD=PASSWORD)
        preds = os.path.join(work, "preds.csv")
        # The predictions the other two load: nightshift's own, once, from the table.
        timed([ns, "run", job, "--run-id", "seed"], env=env)
        sh(["psql", "-h", str(pg.sock), "-p", str(pg.port), "-U", "postgres", "-d", "crm", "-X", "-q", "-c",
            f"\\copy analytics.preds_ns TO '{preds}' CSV HEADER"])
        psql = ["psql", "-h", str(pg.sock), "-p", str(pg.port), "-U", "scorer", "-d", "crm", "-X", "-q",
                "-v", "ON_ERROR_STOP=1"]
        sa_url = f"postgresql+psycopg2://scorer:{PASSWORD}@/crm?host={pg.sock}&port={pg.port}"
        nsr, cp, pd_ = [], [], []
        for i in range(a.repeat):
            for t in ("preds_ns", "preds_copy", "preds_pandas"):
                sh(psql + ["-c", f"DROP TABLE IF EXISTS analytics.{t}, analytics.{t}__nightshift_commits"],
                   env=env)
            r = timed([ns, "run", job, "--run-id", f"r{i}"], env=env)
            nsr.append(rows / r.wall)
            sh(psql + ["-c", TABLE_DDL.format("preds_copy")], env=env)
            r = timed(psql + ["-c", f"\\copy analytics.preds_copy FROM '{preds}' CSV HEADER"], env=env)
            cp.append(rows / r.wall)
            sh(psql + ["-c", TABLE_DDL.format("preds_pandas")], env=env)
            r = timed([py, "-c", PANDAS, sa_url, preds], env=env)
            pd_.append(rows / r.wall)
        counts = sh(psql + ["-A", "-t", "-c", "SELECT (SELECT count(*) FROM analytics.preds_ns), (SELECT count(*) "
                            "FROM analytics.preds_copy), (SELECT count(*) FROM analytics.preds_pandas)"],
                    env=env).stdout.strip()
    finally:
        pg.stop()
        subprocess.run(["rm", "-rf", root])
    out = {"copy": med(nsr) / med(cp), "pandas": med(nsr) / med(pd_)}
    R.add(f"| nightshift (score + write) | {fmt_rate(med(nsr))} | – | – |",
          f"| psql \\copy (CSV, write only) | {fmt_rate(med(cp))} | **{out['copy']:.2f}** | "
          f"{spread([x / y for x, y in zip(nsr, cp)])} |",
          f"| pandas to_sql (CSV, write only) | {fmt_rate(med(pd_))} | **{out['pandas']:.1f}×** | "
          f"{spread([x / y for x, y in zip(nsr, pd_)])} |", "",
          f"rows in the three tables after the last run: {counts.replace('|', ', ')}")
    return out
