"""psycopg2 (and SQLAlchemy) against `sluice gateway`: one check per argv[1].

Usage: pg_client_checks.py CHECK PORT USER PASSWORD. Prints "ok ..." and exits 0, or raises.
"""
import sys
import threading
import time

import psycopg2
import psycopg2.extensions

check, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]


def connect(u=user, pw=password, **kw):
    return psycopg2.connect(host="127.0.0.1", port=port, user=u, password=pw, dbname="sluice",
                            connect_timeout=10, **kw)


def expect_sqlstate(fn, code):
    try:
        fn()
    except psycopg2.Error as e:
        assert e.pgcode == code, f"expected {code}, got {e.pgcode}: {e}"
        return e
    raise AssertionError(f"expected SQLSTATE {code}, got success")


if check == "basic":
    conn = connect()
    cur = conn.cursor()
    cur.execute("SELECT id, s, amount, ts FROM raw.t ORDER BY id")
    rows = cur.fetchall()
    assert [r[0] for r in rows] == [1, 2, 3], rows
    assert rows[0][1] == "a" and str(rows[0][2]) == "3.50", rows
    assert rows[0][3].year == 2024, rows
    cur.execute("SELECT %s::int + 1, %s::varchar, %s::date", (41, "o'brien", "2024-02-29"))
    r = cur.fetchone()
    assert r[0] == 42 and r[1] == "o'brien" and str(r[2]) == "2024-02-29", r
    cur.execute("SELECT count(*) FROM raw.t WHERE s = %s", ("a",))
    assert cur.fetchone()[0] == 1
    conn.rollback()
    conn.close()
    print("ok basic")

elif check == "wrong_password":
    # libpq reports no SQLSTATE for a failed connection; the C++ raw test checks 28P01.
    for u, pw in ((user, "nope"), ("nobody", "nope")):
        try:
            connect(u=u, pw=pw)
            raise AssertionError("login with a wrong password succeeded")
        except psycopg2.OperationalError as e:
            assert "password authentication failed" in str(e), e
    print("ok wrong_password")

elif check == "errors":
    conn = connect()
    conn.autocommit = True
    cur = conn.cursor()
    expect_sqlstate(lambda: cur.execute("SELECT * FROM raw.missing"), "42P01")
    expect_sqlstate(lambda: cur.execute("SELECT * FROM nothing_here"), "42P01")
    expect_sqlstate(lambda: cur.execute("SELECT nope FROM raw.t"), "42703")
    e = expect_sqlstate(lambda: cur.execute("SELEC 1"), "42601")
    expect_sqlstate(lambda: cur.execute("SELECT 'abc'::int"), "22P02")
    cur.execute("SELECT 1")
    assert cur.fetchone()[0] == 1
    print("ok errors", e.diag.statement_position)

elif check == "readonly":
    conn = connect()
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM raw.t")
    assert cur.fetchone()[0] == 3
    expect_sqlstate(lambda: cur.execute("INSERT INTO raw.t (id) VALUES (99)"), "42501")
    expect_sqlstate(lambda: cur.execute("SELECT * FROM curated.secret"), "42501")
    expect_sqlstate(lambda: cur.execute("SELECT * FROM read_csv('/etc/passwd')"), "42501")
    cur.execute("SELECT count(*) FROM raw.t")
    assert cur.fetchone()[0] == 3
    print("ok readonly")

elif check == "write":
    conn = connect()
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("INSERT INTO raw.t (id, s) VALUES (%s, %s)", (10, "via gateway"))
    assert cur.statusmessage == "INSERT 0 1", cur.statusmessage
    cur.execute("SELECT s FROM raw.t WHERE id = 10")
    assert cur.fetchone()[0] == "via gateway"
    cur.execute("DELETE FROM raw.t WHERE id = 10")
    cur.execute("CREATE TABLE curated.t_copy AS SELECT id, s FROM raw.t")
    cur.execute("SET search_path TO curated")
    cur.execute("SELECT count(*) FROM t_copy")
    assert cur.fetchone()[0] == 3
    cur.execute("SHOW search_path")
    assert cur.fetchone()[0] == "curated"
    cur.execute("DROP TABLE curated.t_copy")
    print("ok write")

elif check == "types":
    # Every lake type (and the engine's interval and json) with the OID psycopg2 sees and the
    # Python value its text-format parsers make of it: a wrong OID or text form fails here.
    import datetime
    import decimal
    import uuid
    psycopg2.extras = __import__("psycopg2.extras").extras
    psycopg2.extras.register_uuid()
    conn = connect()
    conn.autocommit = True
    cur = conn.cursor()
    select = """SELECT CAST(-7 AS SMALLINT) AS i2, CAST(2147483647 AS INTEGER) AS i4,
        CAST(9007199254740993 AS BIGINT) AS i8, CAST(1.5 AS REAL) AS f4,
        CAST(-2.25e300 AS DOUBLE) AS f8, TRUE AS b, CAST('-12345678.901' AS DECIMAL(12, 3)) AS dec,
        'o''brien ü' AS txt, DATE '2024-02-29' AS d,
        TIMESTAMP '2024-01-02 03:04:05.123456' AS ts,
        TIMESTAMPTZ '2024-01-02 03:04:05.5+00' AS tstz,
        CAST('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' AS UUID) AS u,
        CAST('\\x00\\xFF\\x41' AS BLOB) AS bin, [1, NULL, 3] AS arr, ['x', 'y,z'] AS sarr"""
    want = {
        "i2": (21, -7), "i4": (23, 2147483647), "i8": (20, 9007199254740993),
        "f4": (700, 1.5), "f8": (701, -2.25e300), "b": (16, True),
        "dec": (1700, decimal.Decimal("-12345678.901")), "txt": (1043, "o'brien ü"),
        "d": (1082, datetime.date(2024, 2, 29)),
        "ts": (1114, datetime.datetime(2024, 1, 2, 3, 4, 5, 123456)),
        "tstz": (1184, datetime.datetime(2024, 1, 2, 3, 4, 5, 500000,
                                         tzinfo=datetime.timezone.utc)),
        "u": (2950, uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")),
        "bin": (17, b"\x00\xffA"), "arr": (1007, [1, None, 3]), "sarr": (1015, ["x", "y,z"]),
    }

    def compare(where, stored=None):
        row = cur.fetchone()
        for col, value in zip(cur.description, row):
            oid, expected = (stored or {}).get(col.name, want[col.name])
            assert col.type_code == oid, f"{where} {col.name}: OID {col.type_code}, want {oid}"
            got = bytes(value) if isinstance(value, memoryview) else value
            assert got == expected, f"{where} {col.name}: {got!r}, want {expected!r}"

    cur.execute(select)
    compare("literal")
    # Stored in a lake table (Parquet with field ids) and read back: the same OIDs and values.
    cur.execute("DROP TABLE IF EXISTS raw.types_t")
    cur.execute("CREATE TABLE raw.types_t AS " + select)
    cur.execute("SELECT * FROM raw.types_t")
    compare("lake", {"i2": (23, -7)})  # Iceberg's smallest integer is int (32-bit)
    cur.execute("DROP TABLE raw.types_t")
    # Types the engine has but a lake column cannot hold: interval and json.
    cur.execute("SELECT INTERVAL '1 day 02:03:04' AS iv, CAST('{\"a\": [1, 2]}' AS JSON) AS js")
    (iv, js) = cur.fetchone()
    assert [c.type_code for c in cur.description] == [1186, 114], cur.description
    assert iv == datetime.timedelta(days=1, hours=2, minutes=3, seconds=4), iv
    assert js == {"a": [1, 2]}, js
    # And as parameters: psycopg2 sends text, the gateway casts by context.
    cur.execute("SELECT %s::date + 1, %s::numeric * 2, %s::uuid, %s::bytea",
                (datetime.date(2024, 2, 28), decimal.Decimal("1.25"),
                 uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), psycopg2.Binary(b"\x01\x02")))
    r = cur.fetchone()
    assert r[0] == datetime.date(2024, 2, 29) and r[1] == decimal.Decimal("2.50"), r
    assert str(r[2]) == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" and bytes(r[3]) == b"\x01\x02", r
    print("ok types")

elif check == "pandas":
    # The README's pandas example, and pandas over SQLAlchemy with typed columns.
    import pandas
    import sqlalchemy
    url = f"postgresql://{user}:{password}@127.0.0.1:{port}/sluice"
    df = pandas.read_sql("SELECT * FROM raw.t ORDER BY id", url)
    assert list(df.columns) == ["id", "s", "amount", "ts"], df.columns
    assert list(df["id"]) == [1, 2, 3], df
    assert str(df["ts"].dtype) == "datetime64[ns]", df.dtypes
    assert df["s"].isna().tolist() == [False, True, False], df
    assert df["amount"][0] == 3.5, df  # read_sql's coerce_float turns numeric into float
    big = pandas.read_sql("SELECT * FROM raw.t WHERE amount > %(min)s", url, params={"min": 0})
    assert list(big["id"]) == [1], big
    engine = sqlalchemy.create_engine(
        f"postgresql+psycopg2://{user}:{password}@127.0.0.1:{port}/sluice")
    with engine.connect() as c:
        agg = pandas.read_sql(sqlalchemy.text(
            "SELECT count(*) AS n, sum(amount) AS total FROM raw.t WHERE id >= :lo"),
            c, params={"lo": 2})
    assert int(agg["n"][0]) == 2 and str(agg["total"][0]) == "-1.25", agg
    frame = pandas.read_sql_table("t", engine, schema="raw")
    assert len(frame) == 3 and list(frame.columns) == ["id", "s", "amount", "ts"], frame
    print("ok pandas", len(df), "rows")

elif check == "writer":
    # A non-admin user with a write grant on raw: INSERT, UPDATE, MERGE and DELETE become lake
    # commits; a write that fails half-way commits nothing; outside its grant: 42501.
    conn = connect()
    conn.autocommit = True
    cur = conn.cursor()

    import subprocess
    sluice, data = sys.argv[5], sys.argv[6]

    def snapshots():
        r = subprocess.run([sluice, "--data-dir", data, "--log-level", "error", "table",
                            "snapshots", "raw.w_t"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, (r.stdout, r.stderr)
        return r.stdout

    cur.execute("CREATE TABLE raw.w_t AS SELECT range AS id, 'v' || range AS v FROM range(5)")
    cur.execute("UPDATE raw.w_t SET v = 'updated' WHERE id = 1")
    assert cur.statusmessage == "UPDATE 1", cur.statusmessage
    cur.execute("""MERGE INTO raw.w_t AS t USING (SELECT 2 AS id, 'merged' AS v UNION ALL
                   SELECT 9, 'new') AS s ON t.id = s.id
                   WHEN MATCHED THEN UPDATE SET v = s.v
                   WHEN NOT MATCHED THEN INSERT (id, v) VALUES (s.id, s.v)""")
    cur.execute("DELETE FROM raw.w_t WHERE id = 0")
    cur.execute("SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM raw.w_t")
    got = cur.fetchone()[0]
    assert got == "1=updated,2=merged,3=v3,4=v4,9=new", got
    before = snapshots()
    # The 3rd row fails its cast while the write runs: no commit, no partial rows.
    expect_sqlstate(lambda: cur.execute(
        "INSERT INTO raw.w_t SELECT CAST(x AS INTEGER), 'c' FROM "
        "(VALUES ('100'), ('101'), ('x')) AS t(x)"), "22P02")
    assert snapshots() == before, "a failed INSERT made a snapshot"
    cur.execute("SELECT count(*) FROM raw.w_t WHERE id >= 100")
    assert cur.fetchone()[0] == 0
    expect_sqlstate(lambda: cur.execute("CREATE TABLE curated.w_no AS SELECT 1 AS x"), "42501")
    expect_sqlstate(lambda: cur.execute("DELETE FROM curated.secret"), "42501")
    cur.execute("DROP TABLE raw.w_t")
    print("ok writer")

elif check == "cancel":
    conn = connect()
    conn.autocommit = True
    cur = conn.cursor()
    timer = threading.Timer(1.0, conn.cancel)
    timer.start()
    t0 = time.time()
    expect_sqlstate(lambda: cur.execute(
        "SELECT count(*) FROM range(100000000000) a WHERE a.range % 7 = 3"), "57014")
    assert time.time() - t0 < 30
    cur.execute("SELECT 2")
    assert cur.fetchone()[0] == 2
    print("ok cancel")

elif check == "timeout":
    conn = connect()
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SET statement_timeout = '500ms'")
    t0 = time.time()
    e = expect_sqlstate(lambda: cur.execute(
        "SELECT count(*) FROM range(100000000000) a WHERE a.range % 7 = 3"), "57014")
    assert "timeout" in str(e), e
    assert time.time() - t0 < 30
    cur.execute("SELECT 3")
    assert cur.fetchone()[0] == 3
    print("ok timeout")

elif check == "concurrent":
    errors = []

    def worker(k):
        try:
            c = connect()
            c.autocommit = True
            cur = c.cursor()
            for i in range(5):
                cur.execute("SELECT count(*), sum(id) FROM raw.t WHERE id <= %s", (k + 3,))
                n, _ = cur.fetchone()
                assert n == 3, n
            c.close()
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    print("ok concurrent")

elif check == "large":
    rows = int(sys.argv[5])
    conn = connect()
    cur = conn.cursor(name="big")
    cur.itersize = 20000
    cur.execute(f"SELECT i, i * 2 AS j, 'row ' || i AS s FROM range({rows}) t(i)")
    n = 0
    total = 0
    for r in cur:
        n += 1
        total += r[0]
    assert n == rows, n
    assert total == rows * (rows - 1) // 2
    cur.close()
    conn.commit()
    print("ok large", n)

elif check == "disconnect":
    conn = connect()
    cur = conn.cursor(name="big")
    cur.itersize = 1000
    cur.execute("SELECT i FROM range(10000000) t(i)")
    cur.fetchmany(10)
    conn.close()  # mid-result
    c2 = connect()
    cur2 = c2.cursor()
    cur2.execute("SELECT 1")
    assert cur2.fetchone()[0] == 1
    print("ok disconnect")

elif check == "sqlalchemy":
    import sqlalchemy
    engine = sqlalchemy.create_engine(
        f"postgresql+psycopg2://{user}:{password}@127.0.0.1:{port}/sluice")
    insp = sqlalchemy.inspect(engine)
    names = insp.get_table_names(schema="raw")
    assert "t" in names, names
    cols = insp.get_columns("t", schema="raw")
    assert [c["name"] for c in cols] == ["id", "s", "amount", "ts"], cols
    assert "raw" in insp.get_schema_names()
    with engine.connect() as c:
        n = c.execute(sqlalchemy.text("SELECT count(*) FROM raw.t")).scalar()
        assert n == 3
    print("ok sqlalchemy", [str(c["type"]) for c in cols])

elif check in ("invalidation", "revoke"):
    # Another process (`sluice sql`, `sluice user`) changes the lake or the grants between two
    # statements of one open session; the next statement must see the change.
    import os
    import subprocess
    sluice, data = sys.argv[5], sys.argv[6]

    def other(*args, **env):
        r = subprocess.run([sluice, "--data-dir", data, "--log-level", "warn", *args],
                           capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, **env))
        assert r.returncode == 0, (args, r.stdout, r.stderr)

    def one(cur, sql):
        cur.execute(sql)
        return cur.fetchone()[0]

    if check == "invalidation":
        conn = connect()
        conn.autocommit = True
        cur = conn.cursor()
        expect_sqlstate(lambda: cur.execute("SELECT * FROM raw.inv_t"), "42P01")
        # Long enough for the session's cached file times to be trusted.
        time.sleep(1.2)
        assert one(cur, "SELECT 1") == 1
        other("sql", "-e", "CREATE TABLE raw.inv_t (x INT)", "-e",
              "INSERT INTO raw.inv_t VALUES (1), (2)")
        assert one(cur, "SELECT sum(x) FROM raw.inv_t") == 3
        other("sql", "-e", "INSERT INTO raw.inv_t VALUES (10)")
        assert one(cur, "SELECT sum(x) FROM raw.inv_t") == 13
        # Hot: read often enough that the session keeps the table in memory
        # (engine.table_cache_min_reads = 3); a commit elsewhere is still seen at once.
        for _ in range(4):
            assert one(cur, "SELECT sum(x) FROM raw.inv_t") == 13
        other("sql", "-e", "INSERT INTO raw.inv_t VALUES (100)")
        assert one(cur, "SELECT sum(x) FROM raw.inv_t") == 113
        for _ in range(4):
            assert one(cur, "SELECT count(*) FROM raw.inv_t WHERE x > 5") == 2
        other("sql", "-e", "DELETE FROM raw.inv_t WHERE x = 10")
        assert one(cur, "SELECT count(*) FROM raw.inv_t WHERE x > 5") == 1
        assert one(cur, "SELECT sum(x) FROM raw.inv_t") == 103
        # A namespace created elsewhere.
        other("sql", "-e", "CREATE SCHEMA inv_ns", "-e", "CREATE TABLE inv_ns.t AS SELECT 42 AS v")
        assert one(cur, "SELECT v FROM inv_ns.t") == 42
        # An unqualified name found through search_path.
        cur.execute("SET search_path = inv_ns")
        other("sql", "-e", "CREATE TABLE inv_ns.u AS SELECT 7 AS w")
        assert one(cur, "SELECT w FROM u") == 7
        cur.execute("SET search_path = main")
        # A table dropped elsewhere is gone.
        other("sql", "-e", "DROP TABLE raw.inv_t")
        expect_sqlstate(lambda: cur.execute("SELECT * FROM raw.inv_t"), "42P01")
        conn.close()
    else:
        other("user", "add", "inv_user", SLUICE_USER_PASSWORD="invpw")
        other("user", "grant", "inv_user", "read", "raw.t")
        conn = connect(u="inv_user", pw="invpw")
        conn.autocommit = True
        cur = conn.cursor()
        assert one(cur, "SELECT count(*) FROM raw.t") == 3
        expect_sqlstate(lambda: cur.execute("SELECT count(*) FROM raw.metrics"), "42501")
        time.sleep(1.2)
        assert one(cur, "SELECT count(*) FROM raw.t") == 3
        other("user", "grant", "inv_user", "read", "raw.metrics")
        assert one(cur, "SELECT count(*) FROM raw.metrics") == 4
        other("user", "revoke", "inv_user", "read", "raw.t")
        expect_sqlstate(lambda: cur.execute("SELECT count(*) FROM raw.t"), "42501")
        assert one(cur, "SELECT count(*) FROM raw.metrics") == 4
        other("user", "remove", "inv_user")
        expect_sqlstate(lambda: cur.execute("SELECT count(*) FROM raw.metrics"), "42501")
        conn.close()
    print("ok", check)

else:
    raise SystemExit(f"unknown check {check}")
