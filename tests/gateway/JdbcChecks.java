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
    if (failures.isEmpty()) {
      System.out.println("ok");
    } else {
      for (String f : failures) System.out.println("FAIL " + f);
      System.exit(1);
    }
  }
}
