// PostgreSQL's JDBC driver (Debian's libpostgresql-jdbc-java) against the gateway: connection,
// DatabaseMetaData introspection (schemas, tables, columns, types) as DBeaver-style tools call
// it, a prepared statement with parameters and typed getters. Run in source-file mode:
//   java -cp /usr/share/java/postgresql.jar JdbcChecks.java PORT USER PASSWORD
// Prints "ok" and exits 0 when every check holds; otherwise prints what failed and exits 1.
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.sql.Timestamp;
import java.sql.Types;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

public class JdbcChecks {
  static List<String> failures = new ArrayList<>();

  static void check(boolean ok, String what) {
    if (!ok) failures.add(what);
  }

  public static void main(String[] args) throws Exception {
    String url = "jdbc:postgresql://127.0.0.1:" + args[0] + "/sluice";
    Properties p = new Properties();
    p.setProperty("user", args[1]);
    p.setProperty("password", args[2]);
    p.setProperty("connectTimeout", "10");
    p.setProperty("socketTimeout", "60");
    try (Connection c = DriverManager.getConnection(url, p)) {
      DatabaseMetaData md = c.getMetaData();
      check(md.getDatabaseProductName().equals("PostgreSQL"),
          "product name: " + md.getDatabaseProductName());

      List<String> schemas = new ArrayList<>();
      try (ResultSet rs = md.getSchemas()) {
        while (rs.next()) schemas.add(rs.getString("TABLE_SCHEM"));
      }
      check(schemas.contains("raw"), "getSchemas lacks raw: " + schemas);

      List<String> tables = new ArrayList<>();
      try (ResultSet rs = md.getTables(null, "raw", "%", new String[] {"TABLE", "VIEW"})) {
        while (rs.next()) tables.add(rs.getString("TABLE_NAME"));
      }
      check(tables.contains("t"), "getTables(raw) lacks t: " + tables);

      List<String> columns = new ArrayList<>();
      try (ResultSet rs = md.getColumns(null, "raw", "t", "%")) {
        while (rs.next()) {
          columns.add(rs.getString("COLUMN_NAME") + ":" + rs.getInt("DATA_TYPE"));
        }
      }
      check(columns.equals(List.of("id:" + Types.INTEGER, "s:" + Types.VARCHAR,
                "amount:" + Types.NUMERIC, "ts:" + Types.TIMESTAMP)),
          "getColumns(raw.t): " + columns);

      try (PreparedStatement ps =
               c.prepareStatement("SELECT id, s, amount, ts FROM raw.t WHERE id >= ? ORDER BY id")) {
        ps.setInt(1, 2);
        try (ResultSet rs = ps.executeQuery()) {
          check(rs.next(), "prepared: no first row");
          check(rs.getInt(1) == 2, "prepared: id " + rs.getInt(1));
          check(rs.getString(2) == null, "prepared: s should be NULL");
          check(rs.getBigDecimal(3).compareTo(new BigDecimal("-1.25")) == 0,
              "prepared: amount " + rs.getBigDecimal(3));
          check(rs.next(), "prepared: no second row");
          check(rs.getInt(1) == 3, "prepared: second id " + rs.getInt(1));
          Timestamp ts = rs.getTimestamp(4);
          check(ts != null && ts.toString().startsWith("2024-05-01"), "prepared: ts " + ts);
          check(!rs.next(), "prepared: a third row");
        }
      }

      try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(
               "SELECT count(*) AS n, sum(amount) AS total FROM raw.t")) {
        check(rs.next() && rs.getLong("n") == 3, "count(*)");
        check(rs.getBigDecimal("total").compareTo(new BigDecimal("2.25")) == 0,
            "sum(amount): " + rs.getBigDecimal("total"));
      }

      // A table the user may not read: SQLSTATE 42501, the connection stays usable.
      try (Statement st = c.createStatement()) {
        try {
          st.executeQuery("SELECT * FROM curated.secret");
          if (args[1].equals("reader")) failures.add("reader read curated.secret");
        } catch (java.sql.SQLException e) {
          check(e.getSQLState().equals("42501"), "no-grant SQLSTATE: " + e.getSQLState());
        }
        try (ResultSet rs = st.executeQuery("SELECT 1")) {
          check(rs.next() && rs.getInt(1) == 1, "connection unusable after an error");
        }
      }
    }
    // Binary format: prepareThreshold=-1 makes the driver use a named server statement from the
    // first execution, with binary results for the types it can decode (ints, floats, numeric,
    // dates, timestamps, uuid, bytea, int arrays) and binary parameters.
    Properties pb = (Properties) p.clone();
    pb.setProperty("prepareThreshold", "-1");
    try (Connection c = DriverManager.getConnection(url, pb);
         PreparedStatement ps = c.prepareStatement(
             "SELECT CAST(? AS SMALLINT), CAST(? AS INTEGER), CAST(? AS BIGINT), CAST(1.5 AS REAL),"
             + " CAST(-2.25e300 AS DOUBLE), TRUE, CAST(? AS DECIMAL(12, 3)), 'o''brien ü',"
             + " DATE '2024-02-29', TIMESTAMP '2024-01-02 03:04:05.123456',"
             + " TIMESTAMPTZ '2024-01-02 03:04:05.5+00',"
             + " CAST('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' AS UUID), CAST('\\x00\\xFF' AS BLOB),"
             + " [1, 2, 3], CAST(NULL AS BIGINT)")) {
      for (int round = 0; round < 2; ++round) {  // the second run reuses the named statement
        ps.setShort(1, (short) -7);
        ps.setInt(2, 2147483647);
        ps.setLong(3, 9007199254740993L);
        ps.setBigDecimal(4, new BigDecimal("-12345678.901"));
        try (ResultSet rs = ps.executeQuery()) {
          String r = "binary round " + round + ": ";
          check(rs.next(), r + "no row");
          check(rs.getShort(1) == -7, r + "int2 " + rs.getShort(1));
          check(rs.getInt(2) == 2147483647, r + "int4 " + rs.getInt(2));
          check(rs.getLong(3) == 9007199254740993L, r + "int8 " + rs.getLong(3));
          check(rs.getFloat(4) == 1.5f, r + "float4 " + rs.getFloat(4));
          check(rs.getDouble(5) == -2.25e300, r + "float8 " + rs.getDouble(5));
          check(rs.getBoolean(6), r + "bool");
          check(rs.getBigDecimal(7).equals(new BigDecimal("-12345678.901")),
              r + "numeric " + rs.getBigDecimal(7));
          check(rs.getString(8).equals("o'brien ü"), r + "varchar " + rs.getString(8));
          check(rs.getObject(9, java.time.LocalDate.class).toString().equals("2024-02-29"),
              r + "date " + rs.getObject(9, java.time.LocalDate.class));
          check(rs.getObject(10, java.time.LocalDateTime.class).toString().equals(
                    "2024-01-02T03:04:05.123456"),
              r + "timestamp " + rs.getObject(10, java.time.LocalDateTime.class));
          check(rs.getObject(11, java.time.OffsetDateTime.class).toInstant().toString().equals(
                    "2024-01-02T03:04:05.500Z"),
              r + "timestamptz " + rs.getObject(11, java.time.OffsetDateTime.class));
          check(rs.getObject(12).toString().equals("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
              r + "uuid " + rs.getObject(12));
          byte[] b = rs.getBytes(13);
          check(b != null && b.length == 2 && b[0] == 0 && b[1] == (byte) 0xFF,
              r + "bytea " + java.util.Arrays.toString(b));
          Object[] arr = (Object[]) rs.getArray(14).getArray();
          check(java.util.Arrays.equals(arr, new Integer[] {1, 2, 3}),
              r + "int4[] " + java.util.Arrays.toString(arr));
          rs.getLong(15);
          check(rs.wasNull(), r + "NULL bigint");
          check(!rs.next(), r + "a second row");
        }
      }
    }

    if (failures.isEmpty()) {
      System.out.println("ok");
    } else {
      for (String f : failures) System.out.println("FAIL " + f);
      System.exit(1);
    }
  }
}
