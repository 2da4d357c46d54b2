"""`nightshift sql` prints a query's result as CSV; nested values (lists,
structs, maps) as DuckDB's own CSV writer prints them, not as empty fields."""
from conftest import sql


def test_sql_prints_lists_structs_and_maps_as_duckdb_csv_does(tmp_path):
    query = ("SELECT 7 AS id, [1, 2, 3] AS l, ['a', 'b'] AS s, [1.5, NULL] AS d, {'x': 1} AS st, "
             "MAP {'k': 2} AS m, NULL::INTEGER[] AS none, [] :: INTEGER[] AS empty")
    out = sql(query)
    assert out == ('id,l,s,d,st,m,none,empty\n'
                   '7,"[1, 2, 3]","[a, b]","[1.5, NULL]",{\'x\': 1},{k=2},,[]\n'), out
    # The same text as DuckDB's CSV writer gives the same row.
    copy = tmp_path / "copy.csv"
    sql(f"COPY ({query}) TO '{copy}' (HEADER)")
    assert copy.read_text() == out


def test_sql_keeps_plain_columns_and_a_trailing_comment_or_semicolon():
    assert sql("SELECT 1.5::DOUBLE AS f, 'a,b' AS t, [2] AS l; -- note") == 'f,t,l\n1.5,"a,b",[2]\n'
    assert sql("SELECT [3] AS l -- note") == "l\n[3]\n"
    assert sql("SELECT [4] AS l, 'x;--' AS y") == "l,y\n[4],x;--\n"
    assert sql("SELECT 1 AS a, 'x' AS b") == "a,b\n1,x\n"
