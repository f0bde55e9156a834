// Example OLTP data (`sluice gen oltp`) and a steady stream of changes (`sluice gen activity`).
//
// Deterministic: the same seed, scale and anchor give the same rows. Distributions: product
// popularity is Zipf-like (s = 1.07 over a random ranking); users buy with heavy-tailed
// propensities (a few repeat buyers place many orders); 20% of users churn and stop ordering at
// their churn time; about 6% of orders see failed payment attempts before success, and a small set
// of "fraudulent" users fail 4-6 times within minutes.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <thread>

#include "common/log.h"
#include "sources/db_client.h"
#include "sources/sources.h"

namespace sluice::sources {
namespace {

using detail::MyConn;
using detail::PgConn;

// splitmix64: small, fast and identical on every platform (std distributions are not).
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  double real() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  int64_t range(int64_t lo, int64_t hi) {  // inclusive
    return lo + static_cast<int64_t>(next() % static_cast<uint64_t>(hi - lo + 1));
  }
  bool chance(double p) { return real() < p; }
  template <typename T, size_t N>
  const T& pick(const T (&a)[N]) {
    return a[next() % N];
  }
};

// Days since 1970-01-01 -> civil date (proleptic Gregorian).
void civil(int64_t days, int* y, unsigned* m, unsigned* d) {
  days += 719468;
  int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  unsigned doe = static_cast<unsigned>(days - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int>(yy + (*m <= 2));
}

void put_ts(std::string& out, int64_t epoch_s, bool tz) {
  int64_t days = epoch_s >= 0 ? epoch_s / 86400 : (epoch_s - 86399) / 86400;
  int64_t sec = epoch_s - days * 86400;
  int y;
  unsigned m, d;
  civil(days, &y, &m, &d);
  fmt::format_to(std::back_inserter(out), "{:04}-{:02}-{:02} {:02}:{:02}:{:02}{}", y, m, d,
                 sec / 3600, sec / 60 % 60, sec % 60, tz ? "+00" : "");
}
void put_date(std::string& out, int64_t epoch_s) {
  int y;
  unsigned m, d;
  civil(epoch_s / 86400, &y, &m, &d);
  fmt::format_to(std::back_inserter(out), "{:04}-{:02}-{:02}", y, m, d);
}

// PostgreSQL COPY text format escaping.
void put_text(std::string& out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += c;
    }
  }
}

// Weighted choice by binary search over a cumulative table.
struct Cdf {
  std::vector<double> c;
  size_t pick(Rng& r) const {
    double x = r.real() * c.back();
    return static_cast<size_t>(std::upper_bound(c.begin(), c.end(), x) - c.begin());
  }
};

const char* kFirst[] = {"Ana",   "Bao",  "Carla", "Dmitri", "Emeka", "Fatima", "Gustavo", "Hana",
                        "Ivan",  "Jia",  "Kofi",  "Lena",   "Mateo", "Nadia",  "Omar",    "Priya",
                        "Quinn", "Rosa", "Sven",  "Tariq",  "Uma",   "Victor", "Wen",     "Yusuf"};
const char* kLast[] = {"Silva", "Nguyen",   "Rossi",   "Ivanov", "Okafor", "Haddad", "Pereira",
                       "Sato",  "Kowalski", "Chen",    "Mensah", "Berg",   "Garcia", "Khan",
                       "Ali",   "Patel",    "O'Brien", "Moreau", "Larsen", "Aziz"};
const char* kCountry[] = {"US", "US", "US", "GB", "DE", "FR", "VN", "BR", "IN", "JP", "NG", "CA"};
const char* kTopCategories[] = {"Electronics", "Home",   "Garden",  "Books", "Toys",
                                "Sports",      "Beauty", "Fashion", "Food",  "Auto"};
const char* kSub[] = {"Basics", "Premium", "Outlet"};
const char* kAdj[] = {"Classic", "Smart", "Eco", "Ultra", "Mini", "Pro", "Soft", "Rugged"};
const char* kNoun[] = {"Lamp",   "Kettle", "Backpack", "Headphones", "Chair",   "Novel", "Puzzle",
                       "Racket", "Serum",  "Jacket",   "Tea",        "Charger", "Hose",  "Mug"};
const char* kColor[] = {"red", "black", "white", "blue", "green", "grey"};
const char* kMethods[] = {"card", "card",   "card",   "card",          "card",     "card",
                          "card", "paypal", "paypal", "bank_transfer", "gift_card"};
const char* kFailures[] = {"card_declined", "insufficient_funds", "expired_card", "do_not_honor",
                           "fraud_suspected"};
const char* kNotes[] = {"Leave at the door, please", "Gift \"wrap\" it", "Call before delivery",
                        "Back entrance\nsecond floor", "Fragile; handle with care"};
const char* kCities[] = {"Hanoi", "Lyon",  "Austin", "Leeds", "Osaka",
                         "Lagos", "Porto", "Denver", "Pune",  "Hamburg"};

const char* kPgSchema = R"(
DROP TABLE IF EXISTS payments, order_items, orders, products, categories, users CASCADE;
DROP TYPE IF EXISTS order_status, user_status;
CREATE TYPE user_status AS ENUM ('active', 'churned', 'suspended');
CREATE TYPE order_status AS ENUM ('PENDING', 'PAID', 'SHIPPED', 'DELIVERED', 'CANCELLED');
CREATE TABLE users (
  user_id bigint PRIMARY KEY, email text NOT NULL, full_name text NOT NULL,
  country char(2), status user_status NOT NULL, external_id uuid NOT NULL, tags text[],
  preferences jsonb, signup_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE categories (
  category_id integer PRIMARY KEY, name text NOT NULL, parent_id integer,
  created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE products (
  product_id bigint PRIMARY KEY, sku varchar(32) NOT NULL, name text NOT NULL,
  category_id integer NOT NULL, price numeric(10,2) NOT NULL, attributes jsonb, thumbnail bytea,
  active boolean NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE orders (
  order_id bigint PRIMARY KEY, user_id bigint NOT NULL, status order_status NOT NULL,
  total_amount numeric(12,2) NOT NULL, currency char(3) NOT NULL,
  ordered_at timestamptz NOT NULL, shipping_date date, note text,
  updated_at timestamptz NOT NULL);
CREATE TABLE order_items (
  order_id bigint NOT NULL, line_no smallint NOT NULL, product_id bigint NOT NULL,
  quantity integer NOT NULL, unit_price numeric(10,2) NOT NULL,
  PRIMARY KEY (order_id, line_no));
CREATE TABLE payments (
  payment_id bigint PRIMARY KEY, order_id bigint NOT NULL, user_id bigint NOT NULL,
  amount numeric(12,2) NOT NULL, method text NOT NULL, status text NOT NULL,
  failure_reason text, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
)";

const char* kPgIndexes = R"(
CREATE INDEX ON users (updated_at);
CREATE INDEX ON products (updated_at);
CREATE INDEX ON orders (updated_at);
CREATE INDEX ON orders (user_id);
CREATE INDEX ON payments (updated_at);
CREATE INDEX ON payments (order_id);
ANALYZE users, categories, products, orders, order_items, payments;
)";

const char* kMysqlSchema[] = {
    "DROP TABLE IF EXISTS inventory, suppliers, warehouses",
    "CREATE TABLE warehouses (warehouse_id INT PRIMARY KEY, code VARCHAR(16) NOT NULL, "
    "city VARCHAR(64), country CHAR(2), capacity INT UNSIGNED, opened_on DATE, "
    "updated_at DATETIME(6) NOT NULL, KEY (updated_at))",
    "CREATE TABLE suppliers (supplier_id INT PRIMARY KEY, name VARCHAR(128) NOT NULL, "
    "contact_email VARCHAR(128), rating DECIMAL(3,2), active TINYINT(1) NOT NULL, "
    "created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), "
    "updated_at DATETIME(6) NOT NULL, KEY (updated_at))",
    "CREATE TABLE inventory (inventory_id BIGINT PRIMARY KEY, product_id BIGINT NOT NULL, "
    "warehouse_id INT NOT NULL, supplier_id INT, quantity INT NOT NULL, reserved INT NOT NULL, "
    "unit_cost DECIMAL(10,2), bin_location VARCHAR(16), status ENUM('in_stock','low','out') "
    "NOT NULL, last_counted_at TIMESTAMP NULL, updated_at DATETIME(6) NOT NULL, "
    "KEY (updated_at), UNIQUE KEY (product_id, warehouse_id))"};

// Streams COPY FROM STDIN text in ~1 MiB pieces.
struct CopyStream {
  PgConn* conn;
  std::string buf;
  int64_t rows = 0;
  Status flush(bool force) {
    if (buf.size() < (1 << 20) && !force) return Status::ok();
    SLUICE_RETURN_IF_ERROR(conn->copy_put(buf));
    buf.clear();
    return Status::ok();
  }
  Status row_done() {
    buf += '\n';
    ++rows;
    return flush(false);
  }
};

struct Product {
  int64_t id;
  int64_t price_cents;
};

int64_t today_utc() {
  auto now = std::chrono::system_clock::now();
  int64_t s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  return s - s % 86400;
}

std::string money(int64_t cents) {
  return fmt::format("{}.{:02}", cents / 100, cents % 100);
}

std::string uuid(Rng& r) {
  uint64_t a = r.next(), b = r.next();
  a = (a & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;
  b = (b & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xFFFF, a & 0xFFFF,
                     b >> 48, b & 0xFFFFFFFFFFFFULL);
}

Result<GenCounts> gen_postgres(const Endpoint& ep, const GenOptions& o, Rng& rng) {
  const int64_t T = o.anchor_epoch_s ? o.anchor_epoch_s : today_utc();
  const int64_t start = T - int64_t{o.days} * 86400;
  const int64_t n_users = 1000LL * o.scale;
  const int64_t n_products = 200LL * o.scale;
  const int64_t n_orders = 10000LL * o.scale;
  GenCounts counts;

  SLUICE_ASSIGN_OR_RETURN(auto admin, PgConn::connect(ep, "sluice-gen"));
  SLUICE_RETURN_IF_ERROR(admin.exec(kPgSchema));

  // categories: 10 top-level, 3 subcategories each.
  {
    std::string sql = "INSERT INTO categories VALUES ";
    int id = 1;
    std::vector<int> leaves;
    for (size_t i = 0; i < std::size(kTopCategories); ++i) {
      int top = id++;
      sql +=
          fmt::format("{}({}, '{}', NULL, to_timestamp({}), to_timestamp({}))", top > 1 ? "," : "",
                      top, kTopCategories[i], start - 400 * 86400, start - 400 * 86400);
      for (const char* s : kSub) {
        int sub = id++;
        leaves.push_back(sub);
        sql += fmt::format(",({}, '{} {}', {}, to_timestamp({}), to_timestamp({}))", sub,
                           kTopCategories[i], s, top, start - 400 * 86400, start - 300 * 86400);
      }
    }
    SLUICE_RETURN_IF_ERROR(admin.exec(sql));
    counts.emplace_back("categories", id - 1);

    // products
    std::vector<Product> products;
    SLUICE_RETURN_IF_ERROR(admin.copy_begin("COPY products FROM STDIN"));
    CopyStream cs{&admin, {}, 0};
    for (int64_t p = 1; p <= n_products; ++p) {
      int64_t cents = static_cast<int64_t>(std::exp(1.5 + rng.real() * 5.0) * 100);
      products.push_back({p, cents});
      int64_t created = start - rng.range(30, 400) * 86400;
      fmt::format_to(std::back_inserter(cs.buf), "{}\tSKU-{:07}\t{} {} {}\t{}\t{}\t", p, p,
                     rng.pick(kAdj), rng.pick(kNoun), p, leaves[rng.next() % leaves.size()],
                     money(cents));
      fmt::format_to(std::back_inserter(cs.buf),
                     "{{\"color\": \"{}\", \"weight_g\": {}, \"tags\": [\"{}\"]}}\t",
                     rng.pick(kColor), rng.range(50, 5000), rng.pick(kAdj));
      if (rng.chance(0.3)) {
        cs.buf += "\\N\t";
      } else {
        cs.buf += "\\\\x";
        for (int k = 0; k < 8; ++k)
          fmt::format_to(std::back_inserter(cs.buf), "{:02x}", rng.next() & 0xFF);
        cs.buf += '\t';
      }
      cs.buf += rng.chance(0.95) ? "t\t" : "f\t";
      put_ts(cs.buf, created, true);
      cs.buf += '\t';
      put_ts(cs.buf, created + rng.range(0, 20) * 86400, true);
      SLUICE_RETURN_IF_ERROR(cs.row_done());
    }
    SLUICE_RETURN_IF_ERROR(cs.flush(true));
    SLUICE_RETURN_IF_ERROR(admin.copy_end());
    counts.emplace_back("products", n_products);

    // Zipf-like popularity over a random ranking of products.
    std::vector<size_t> rank(products.size());
    for (size_t i = 0; i < rank.size(); ++i)
      rank[i] = i;
    for (size_t i = rank.size(); i > 1; --i)
      std::swap(rank[i - 1], rank[rng.next() % i]);
    Cdf popularity;
    double acc = 0;
    std::vector<double> weight(products.size());
    for (size_t i = 0; i < rank.size(); ++i)
      weight[rank[i]] = 1.0 / std::pow(static_cast<double>(i + 1), 1.07);
    for (double w : weight)
      popularity.c.push_back(acc += w);

    // users
    struct User {
      int64_t signup, end;
      bool fraud;
    };
    std::vector<User> users;
    Cdf propensity;
    acc = 0;
    SLUICE_RETURN_IF_ERROR(admin.copy_begin("COPY users FROM STDIN"));
    cs = CopyStream{&admin, {}, 0};
    for (int64_t u = 1; u <= n_users; ++u) {
      int64_t signup = start - 365 * 86400 + rng.range(0, (365 + o.days - 1) * 86400LL);
      bool churned = rng.chance(0.2);
      bool suspended = !churned && rng.chance(0.01);
      int64_t end = T;
      if (churned)
        end = signup + static_cast<int64_t>(rng.real() * static_cast<double>(T - signup));
      users.push_back({signup, end, rng.chance(0.005)});
      // Heavy tail: most users buy rarely, a few buy a lot.
      propensity.c.push_back(acc += std::pow(rng.real() + 1e-3, -0.9));
      std::string first = rng.pick(kFirst), last = rng.pick(kLast);
      fmt::format_to(std::back_inserter(cs.buf), "{}\tuser{}@example.com\t", u, u);
      put_text(cs.buf, first + " " + last);
      fmt::format_to(std::back_inserter(cs.buf), "\t{}\t{}\t{}\t", rng.pick(kCountry),
                     churned ? "churned" : (suspended ? "suspended" : "active"), uuid(rng));
      if (rng.chance(0.5)) {
        cs.buf += "\\N\t";
      } else {
        fmt::format_to(std::back_inserter(cs.buf), "{{{}{}}}\t",
                       rng.chance(0.5) ? "newsletter" : "app", rng.chance(0.1) ? ",vip" : "");
      }
      fmt::format_to(std::back_inserter(cs.buf), "{{\"lang\": \"{}\", \"marketing\": {}}}\t",
                     rng.chance(0.7) ? "en" : "vi", rng.chance(0.4) ? "true" : "false");
      put_ts(cs.buf, signup, true);
      cs.buf += '\t';
      put_ts(cs.buf, std::min(T, signup + rng.range(0, 30) * 86400), true);
      SLUICE_RETURN_IF_ERROR(cs.row_done());
    }
    SLUICE_RETURN_IF_ERROR(cs.flush(true));
    SLUICE_RETURN_IF_ERROR(admin.copy_end());
    counts.emplace_back("users", n_users);

    // orders: draw (user, time) pairs, then number them in time order.
    struct Ord {
      int64_t t;
      int64_t user;
    };
    std::vector<Ord> ords;
    ords.reserve(static_cast<size_t>(n_orders));
    while (static_cast<int64_t>(ords.size()) < n_orders) {
      size_t u = propensity.pick(rng);
      int64_t lo = std::max(users[u].signup, start), hi = users[u].end;
      if (hi <= lo) continue;  // churned before the window: no orders
      ords.push_back({lo + static_cast<int64_t>(rng.real() * static_cast<double>(hi - lo)),
                      static_cast<int64_t>(u) + 1});
    }
    std::sort(ords.begin(), ords.end(), [](const Ord& a, const Ord& b) { return a.t < b.t; });

    SLUICE_ASSIGN_OR_RETURN(auto c_items, PgConn::connect(ep, "sluice-gen"));
    SLUICE_ASSIGN_OR_RETURN(auto c_pay, PgConn::connect(ep, "sluice-gen"));
    SLUICE_RETURN_IF_ERROR(admin.copy_begin("COPY orders FROM STDIN"));
    SLUICE_RETURN_IF_ERROR(c_items.copy_begin("COPY order_items FROM STDIN"));
    SLUICE_RETURN_IF_ERROR(c_pay.copy_begin("COPY payments FROM STDIN"));
    CopyStream so{&admin, {}, 0}, si{&c_items, {}, 0}, sp{&c_pay, {}, 0};
    int64_t payment_id = 0, failed = 0;
    for (size_t k = 0; k < ords.size(); ++k) {
      const auto& od = ords[k];
      int64_t oid = static_cast<int64_t>(k) + 1;
      int lines = 1 + static_cast<int>(std::min<double>(4, -std::log(rng.real() + 1e-12) * 1.2));
      int64_t total = 0;
      for (int l = 1; l <= lines; ++l) {
        const auto& prod = products[popularity.pick(rng)];
        int qty = rng.chance(0.8) ? 1 : static_cast<int>(rng.range(2, 4));
        total += prod.price_cents * qty;
        fmt::format_to(std::back_inserter(si.buf), "{}\t{}\t{}\t{}\t{}", oid, l, prod.id, qty,
                       money(prod.price_cents));
        SLUICE_RETURN_IF_ERROR(si.row_done());
      }
      double age = static_cast<double>(T - od.t) / 86400.0;
      const char* status;
      if (rng.chance(0.04)) {
        status = "CANCELLED";
      } else if (age < 1) {
        status = rng.chance(0.5) ? "PENDING" : "PAID";
      } else if (age < 3) {
        status = rng.chance(0.5) ? "PAID" : "SHIPPED";
      } else if (age < 7) {
        status = rng.chance(0.4) ? "SHIPPED" : "DELIVERED";
      } else {
        status = "DELIVERED";
      }
      std::string_view st(status);
      int64_t updated = std::min(T, od.t + static_cast<int64_t>(rng.range(60, 86400 * 3)));
      fmt::format_to(std::back_inserter(so.buf), "{}\t{}\t{}\t{}\t{}\t", oid, od.user, status,
                     money(total), rng.chance(0.7) ? "USD" : (rng.chance(0.66) ? "EUR" : "GBP"));
      put_ts(so.buf, od.t, true);
      so.buf += '\t';
      if (st == "SHIPPED" || st == "DELIVERED") {
        put_date(so.buf, od.t + rng.range(1, 3) * 86400);
      } else {
        so.buf += "\\N";
      }
      so.buf += '\t';
      if (rng.chance(0.05)) {
        put_text(so.buf, rng.pick(kNotes));
      } else {
        so.buf += "\\N";
      }
      so.buf += '\t';
      put_ts(so.buf, updated, true);
      SLUICE_RETURN_IF_ERROR(so.row_done());

      // payments: failed attempts first, then the outcome.
      int fails = 0;
      const auto& usr = users[static_cast<size_t>(od.user - 1)];
      if (usr.fraud && rng.chance(0.6)) {
        fails = static_cast<int>(rng.range(4, 6));
      } else if (rng.chance(0.06)) {
        fails = static_cast<int>(rng.range(1, 2));
      }
      if (st == "PENDING" && rng.chance(0.5)) fails = 0;
      int64_t t = od.t + rng.range(5, 120);
      const char* method = rng.pick(kMethods);
      auto pay = [&](const char* pst, const char* reason) -> Status {
        fmt::format_to(std::back_inserter(sp.buf), "{}\t{}\t{}\t{}\t{}\t{}\t{}\t", ++payment_id,
                       oid, od.user, money(total), method, pst, reason ? reason : "\\N");
        put_ts(sp.buf, std::min(t, T), true);
        sp.buf += '\t';
        put_ts(sp.buf, std::min(t + rng.range(1, 30), T), true);
        return sp.row_done();
      };
      for (int f = 0; f < fails; ++f) {
        SLUICE_RETURN_IF_ERROR(
            pay("FAILED", usr.fraud && rng.chance(0.5) ? "fraud_suspected" : rng.pick(kFailures)));
        ++failed;
        t += usr.fraud ? rng.range(20, 90) : rng.range(30, 600);
        if (!usr.fraud && rng.chance(0.3)) method = rng.pick(kMethods);
      }
      if (st == "CANCELLED") {
        if (rng.chance(0.5)) {
          SLUICE_RETURN_IF_ERROR(pay("FAILED", rng.pick(kFailures)));
          ++failed;
        }
      } else if (st == "PENDING") {
        SLUICE_RETURN_IF_ERROR(pay("PENDING", nullptr));
      } else {
        SLUICE_RETURN_IF_ERROR(
            pay(st == "DELIVERED" && rng.chance(0.02) ? "REFUNDED" : "SUCCESS", nullptr));
      }
    }
    SLUICE_RETURN_IF_ERROR(so.flush(true));
    SLUICE_RETURN_IF_ERROR(si.flush(true));
    SLUICE_RETURN_IF_ERROR(sp.flush(true));
    SLUICE_RETURN_IF_ERROR(admin.copy_end());
    SLUICE_RETURN_IF_ERROR(c_items.copy_end());
    SLUICE_RETURN_IF_ERROR(c_pay.copy_end());
    counts.emplace_back("orders", so.rows);
    counts.emplace_back("order_items", si.rows);
    counts.emplace_back("payments", sp.rows);
    log::info("generated payments", {log::kv("rows", sp.rows), log::kv("failed", failed)});
  }
  SLUICE_RETURN_IF_ERROR(admin.exec(kPgIndexes));
  return counts;
}

Result<GenCounts> gen_mysql(const Endpoint& ep, const GenOptions& o, Rng& rng) {
  const int64_t T = o.anchor_epoch_s ? o.anchor_epoch_s : today_utc();
  const int64_t n_wh = 5 + o.scale;
  const int64_t n_sup = 20LL * o.scale;
  const int64_t n_products = 200LL * o.scale;
  GenCounts counts;
  SLUICE_ASSIGN_OR_RETURN(auto c, MyConn::connect(ep));
  for (const char* s : kMysqlSchema)
    SLUICE_RETURN_IF_ERROR(c.exec(s));
  auto ts = [&](int64_t s) {
    std::string out = "'";
    put_ts(out, s, false);
    return out + "'";
  };
  std::string sql = "INSERT INTO warehouses VALUES ";
  for (int64_t w = 1; w <= n_wh; ++w) {
    std::string d = "'";
    put_date(d, T - rng.range(200, 3000) * 86400);
    sql += fmt::format("{}({}, 'WH-{:03}', '{}', '{}', {}, {}', {})", w > 1 ? "," : "", w, w,
                       rng.pick(kCities), rng.pick(kCountry), rng.range(1000, 100000), d,
                       ts(T - rng.range(1, 90) * 86400));
  }
  SLUICE_RETURN_IF_ERROR(c.exec(sql));
  counts.emplace_back("warehouses", n_wh);
  sql =
      "INSERT INTO suppliers (supplier_id, name, contact_email, rating, active, created_at, "
      "updated_at) VALUES ";
  for (int64_t s = 1; s <= n_sup; ++s) {
    int64_t created = T - rng.range(100, 900) * 86400;
    sql += fmt::format("{}({}, '{} {} Supply', 'sales{}@supplier.example', {}.{:02}, {}, {}, {})",
                       s > 1 ? "," : "", s, rng.pick(kCities), rng.pick(kNoun), s, rng.range(1, 4),
                       rng.range(0, 99), rng.chance(0.9) ? 1 : 0, ts(created),
                       ts(created + rng.range(0, 90) * 86400));
  }
  SLUICE_RETURN_IF_ERROR(c.exec(sql));
  counts.emplace_back("suppliers", n_sup);
  int64_t inv = 0;
  sql.clear();
  for (int64_t p = 1; p <= n_products; ++p) {
    int64_t nw = rng.range(1, std::min<int64_t>(3, n_wh));
    int64_t w0 = rng.range(1, n_wh);
    for (int64_t k = 0; k < nw; ++k) {
      int64_t w = (w0 + k - 1) % n_wh + 1;
      int64_t qty = rng.chance(0.05) ? 0 : rng.range(1, 500);
      if (sql.empty())
        sql = "INSERT INTO inventory VALUES ";
      else
        sql += ',';
      sql += fmt::format("({}, {}, {}, {}, {}, {}, {}.{:02}, 'A-{:02}-{}', '{}', {}, {})", ++inv, p,
                         w, rng.range(1, n_sup), qty, qty > 0 ? rng.range(0, qty / 4) : 0,
                         rng.range(1, 300), rng.range(0, 99), rng.range(1, 40), rng.range(1, 9),
                         qty == 0 ? "out" : (qty < 20 ? "low" : "in_stock"),
                         rng.chance(0.2) ? std::string("NULL") : ts(T - rng.range(1, 60) * 86400),
                         ts(T - rng.range(0, 30 * 86400)));
      if (sql.size() > (1 << 20)) {
        SLUICE_RETURN_IF_ERROR(c.exec(sql));
        sql.clear();
      }
    }
  }
  if (!sql.empty()) SLUICE_RETURN_IF_ERROR(c.exec(sql));
  SLUICE_RETURN_IF_ERROR(c.exec("ANALYZE TABLE warehouses, suppliers, inventory"));
  counts.emplace_back("inventory", inv);
  return counts;
}

}  // namespace

Result<GenCounts> gen_oltp(const Endpoint& pg, const Endpoint& mysql, const GenOptions& o) {
  if (o.scale < 1) return invalid_argument("--scale must be at least 1");
  GenCounts all;
  if (o.postgres) {
    Rng rng{o.seed};
    auto c = gen_postgres(pg, o, rng);
    if (!c.is_ok()) return c.status().with_context("generating PostgreSQL data");
    for (auto& [t, n] : *c)
      all.emplace_back("postgres." + t, n);
  }
  if (o.mysql) {
    Rng rng{o.seed ^ 0x5A5A5A5AULL};
    auto c = gen_mysql(mysql, o, rng);
    if (!c.is_ok()) return c.status().with_context("generating MariaDB data");
    for (auto& [t, n] : *c)
      all.emplace_back("mariadb." + t, n);
  }
  return all;
}

Result<GenCounts> gen_activity(const Endpoint& pg, const Endpoint& mysql,
                               const ActivityOptions& o) {
  if (o.rate <= 0) return invalid_argument("--rate must be positive");
  Rng rng{o.seed};
  std::optional<PgConn> p;
  std::optional<MyConn> m;
  int64_t next_order = 0, next_payment = 0, n_products = 0, n_users = 0, n_inventory = 0;
  if (o.postgres) {
    SLUICE_ASSIGN_OR_RETURN(auto c, PgConn::connect(pg, "sluice-gen-activity"));
    SLUICE_ASSIGN_OR_RETURN(
        auto r, c.query("SELECT (SELECT coalesce(max(order_id), 0) FROM orders), (SELECT "
                        "coalesce(max(payment_id), 0) FROM payments), (SELECT count(*) FROM "
                        "products), (SELECT count(*) FROM users)"));
    next_order = std::stoll(*r[0][0]) + 1;
    next_payment = std::stoll(*r[0][1]) + 1;
    n_products = std::stoll(*r[0][2]);
    n_users = std::stoll(*r[0][3]);
    if (n_products == 0 || n_users == 0) {
      return invalid_argument("no products or users in PostgreSQL: run `sluice gen oltp` first");
    }
    p.emplace(std::move(c));
  }
  if (o.mysql) {
    SLUICE_ASSIGN_OR_RETURN(auto c, MyConn::connect(mysql));
    SLUICE_ASSIGN_OR_RETURN(auto r,
                            c.query("SELECT coalesce(max(inventory_id), 0) FROM inventory"));
    n_inventory = std::stoll(r[0][0].value_or("0"));
    m.emplace(std::move(c));
  }
  int64_t placed = 0, advanced = 0, settled = 0, purged = 0, moved = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0;; ++i) {
    auto due = t0 + std::chrono::duration<double>(static_cast<double>(i) / o.rate);
    if (o.duration_s > 0 && std::chrono::duration<double>(due - t0).count() >= o.duration_s) {
      break;
    }
    std::this_thread::sleep_until(due);
    double x = rng.real();
    if (m && (!p || x < 0.15)) {
      if (n_inventory == 0) continue;
      SLUICE_RETURN_IF_ERROR(m->exec(fmt::format(
          "UPDATE inventory SET quantity = GREATEST(0, quantity + {}), updated_at = NOW(6) "
          "WHERE inventory_id = {}",
          rng.range(-20, 30), rng.range(1, n_inventory))));
      ++moved;
      continue;
    }
    if (!p) continue;
    if (x < 0.60) {
      int64_t oid = next_order++;
      int64_t user = rng.range(1, n_users);
      std::string sql = "BEGIN; ";
      int lines = static_cast<int>(rng.range(1, 3));
      sql += fmt::format(
          "INSERT INTO order_items SELECT {0}, g, 1 + (hashint4(g + {0}::int) & 2147483647) % {1}, "
          "1, 0 FROM generate_series(1, {2}) g; ",
          oid, n_products, lines);
      sql += fmt::format(
          "UPDATE order_items i SET unit_price = p.price FROM products p WHERE "
          "i.order_id = {} AND p.product_id = i.product_id; ",
          oid);
      sql += fmt::format(
          "INSERT INTO orders SELECT {0}, {1}, 'PENDING', coalesce(sum(unit_price * quantity), 0), "
          "'USD', now(), NULL, NULL, now() FROM order_items WHERE order_id = {0}; ",
          oid, user);
      bool fail = rng.chance(0.1);
      sql += fmt::format(
          "INSERT INTO payments SELECT {}, {}, {}, total_amount, 'card', '{}', {}, now(), now() "
          "FROM orders WHERE order_id = {}; COMMIT",
          next_payment++, oid, user, fail ? "FAILED" : "PENDING", fail ? "'card_declined'" : "NULL",
          oid);
      SLUICE_RETURN_IF_ERROR(p->exec(sql));
      ++placed;
    } else if (x < 0.80) {
      SLUICE_RETURN_IF_ERROR(p->exec(fmt::format(
          "UPDATE orders SET status = CASE status WHEN 'PENDING' THEN 'PAID' WHEN 'PAID' THEN "
          "'SHIPPED' ELSE 'DELIVERED' END::order_status, shipping_date = CASE WHEN status = "
          "'PAID' THEN current_date ELSE shipping_date END, updated_at = now() WHERE order_id = "
          "{} AND status IN ('PENDING', 'PAID', 'SHIPPED')",
          rng.range(1, next_order - 1))));
      ++advanced;
    } else if (x < 0.95) {
      bool ok = rng.chance(0.85);
      SLUICE_RETURN_IF_ERROR(p->exec(fmt::format(
          "UPDATE payments SET status = '{}', failure_reason = {}, updated_at = now() WHERE "
          "payment_id = (SELECT payment_id FROM payments WHERE status = 'PENDING' ORDER BY "
          "payment_id DESC LIMIT 1)",
          ok ? "SUCCESS" : "FAILED", ok ? "NULL" : "'insufficient_funds'")));
      ++settled;
    } else {
      SLUICE_RETURN_IF_ERROR(p->exec(
          "BEGIN; CREATE TEMP TABLE IF NOT EXISTS purge (order_id bigint); TRUNCATE purge; "
          "INSERT INTO purge SELECT order_id FROM orders WHERE status = 'CANCELLED' ORDER BY "
          "order_id LIMIT 1; DELETE FROM payments WHERE order_id IN (SELECT order_id FROM purge); "
          "DELETE FROM order_items WHERE order_id IN (SELECT order_id FROM purge); DELETE FROM "
          "orders WHERE order_id IN (SELECT order_id FROM purge); COMMIT"));
      ++purged;
    }
  }
  return GenCounts{{"orders placed", placed},
                   {"orders advanced", advanced},
                   {"payments settled", settled},
                   {"cancelled orders purged", purged},
                   {"inventory moves", moved}};
}

}  // namespace sluice::sources
