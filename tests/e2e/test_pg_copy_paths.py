"""The two ways rows reach a PostgreSQL table in modes insert and swap:
binary COPY straight into a table whose columns have the types nightshift
writes, and through the staging table with a cast when they do not."""
import pytest

from conftest import EXIT_OK, Case, run
from pg_fixture import pg_server  # noqa: F401  (the session fixture)
from test_db_output import ENV, check_table, pg_job


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    c = Case(tmp_path_factory.mktemp("copypaths"), n=900, seed=31)
    c.input_path = c.make_input("parquet")
    return c


@pytest.fixture
def stage_tables(pg_server):
    """Counts the staging tables runs create, by an event trigger on CREATE TABLE
    (temporary ones included) for the duration of one test."""
    pg = pg_server
    pg.admin("CREATE TABLE public.ns_ddl_log (object text)", db="crm")
    pg.admin("CREATE FUNCTION public.ns_log_ddl() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER AS $$ "
             "DECLARE r record; BEGIN FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP "
             "INSERT INTO public.ns_ddl_log VALUES (r.object_identity); END LOOP; END $$", db="crm")
    pg.admin("CREATE EVENT TRIGGER ns_ddl ON ddl_command_end WHEN TAG IN ('CREATE TABLE') "
             "EXECUTE FUNCTION public.ns_log_ddl()", db="crm")
    try:
        yield lambda: int(pg.query("SELECT count(*) FROM public.ns_ddl_log WHERE object LIKE '%.ns_stage'")[0][0])
    finally:
        pg.admin("DROP EVENT TRIGGER ns_ddl; DROP FUNCTION public.ns_log_ddl(); DROP TABLE public.ns_ddl_log",
                 db="crm")


@pytest.mark.parametrize("mode", ["insert", "swap"])
def test_other_column_types_go_through_the_staging_table(case, pg_server, stage_tables, tmp_path, mode):
    pg = pg_server
    table = f"analytics.cast_{mode}"
    pg.admin(f"CREATE TABLE {table} (id numeric(20,0) PRIMARY KEY, name varchar(100), "
             "p0 double precision, p1 numeric, p2 real, extra text DEFAULT 'x')", db="crm")
    pg.admin(f"ALTER TABLE {table} OWNER TO scorer", db="crm")
    rc, out, err = run("run", pg_job(case, pg, tmp_path, table, mode=mode), env=ENV)
    assert rc == EXIT_OK, err
    assert stage_tables() == 4  # one per shard (900 rows, 250 a shard)
    check_table(case, pg, table)
    types = dict(pg.query("SELECT column_name, data_type FROM information_schema.columns "
                          f"WHERE table_schema = 'analytics' AND table_name = 'cast_{mode}'"))
    assert types["id"] == "numeric" and types["p1"] == "numeric", types
    assert pg.query(f"SELECT DISTINCT extra FROM {table}") == [["x"]]


def test_created_table_takes_the_copy_directly(case, pg_server, stage_tables, tmp_path):
    pg = pg_server
    rc, out, err = run("run", pg_job(case, pg, tmp_path, "analytics.direct", mode="insert"), env=ENV)
    assert rc == EXIT_OK, err
    assert stage_tables() == 0
    check_table(case, pg, "analytics.direct")
