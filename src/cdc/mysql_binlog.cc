#include "cdc/mysql_binlog.h"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cstring>
#include <ctime>

namespace sluice::cdc::mysql {
namespace {

uint64_t le(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i)
    v = (v << 8) | p[i];
  return v;
}

uint64_t be(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i)
    v = (v << 8) | p[i];
  return v;
}

int64_t sign_extend(uint64_t v, int bytes) {
  int shift = 64 - bytes * 8;
  return static_cast<int64_t>(v << shift) >> shift;
}

// A bounds-checked cursor over an event body.
struct Cursor {
  std::string_view d;
  size_t pos = 0;
  bool ok = true;
  const uint8_t* ptr() const { return reinterpret_cast<const uint8_t*>(d.data()) + pos; }
  bool need(size_t n) {
    if (pos + n > d.size()) ok = false;
    return ok;
  }
  uint64_t fixed(int n) {
    if (!need(static_cast<size_t>(n))) return 0;
    uint64_t v = le(ptr(), n);
    pos += static_cast<size_t>(n);
    return v;
  }
  uint64_t lenenc() {
    uint64_t first = fixed(1);
    if (first < 0xfb) return first;
    if (first == 0xfc) return fixed(2);
    if (first == 0xfd) return fixed(3);
    if (first == 0xfe) return fixed(8);
    ok = false;
    return 0;
  }
  std::string_view bytes(size_t n) {
    if (!need(n)) return {};
    std::string_view s = d.substr(pos, n);
    pos += n;
    return s;
  }
};

constexpr std::array<int, 10> kDig2Bytes = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};

std::string frac_text(int64_t usec, int fsp) {
  if (fsp <= 0) return {};
  std::string s = fmt::format("{:06d}", usec);
  return "." + s.substr(0, static_cast<size_t>(std::min(fsp, 6)));
}

template <typename T>
std::string shortest(T v) {
  std::array<char, 64> buf;
  auto r = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  return std::string(buf.data(), r.ptr);
}

std::string lower_word(std::string_view source_type) {
  std::string w;
  for (char c : source_type) {
    if (!std::isalpha(static_cast<unsigned char>(c))) break;
    w.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return w;
}

int paren_number(std::string_view t, int fallback) {
  auto open = t.find('(');
  if (open == std::string_view::npos) return fallback;
  int v = 0;
  auto r = std::from_chars(t.data() + open + 1, t.data() + t.size(), v);
  return r.ec == std::errc() ? v : fallback;
}

// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
void civil_from_days(int64_t z, int* y, int* m, int* d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t yy = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = static_cast<int>(yy + (*m <= 2 ? 1 : 0));
}

}  // namespace

size_t decimal_binary_size(int precision, int scale) {
  int intg = precision - scale;
  return static_cast<size_t>((intg / 9) * 4 + kDig2Bytes[static_cast<size_t>(intg % 9)] +
                             (scale / 9) * 4 + kDig2Bytes[static_cast<size_t>(scale % 9)]);
}

std::string decode_decimal(const uint8_t* p, int precision, int scale, size_t* size) {
  int intg = precision - scale;
  int intg0 = intg / 9, intg0x = intg % 9, frac0 = scale / 9, frac0x = scale % 9;
  size_t n = decimal_binary_size(precision, scale);
  *size = n;
  std::vector<uint8_t> b(p, p + n);
  bool negative = (b[0] & 0x80) == 0;
  b[0] ^= 0x80;
  if (negative) {
    for (auto& c : b)
      c = static_cast<uint8_t>(~c);
  }
  size_t off = 0;
  std::string ip;
  if (intg0x > 0) {
    int len = kDig2Bytes[static_cast<size_t>(intg0x)];
    ip += std::to_string(be(b.data() + off, len));
    off += static_cast<size_t>(len);
  }
  for (int i = 0; i < intg0; ++i) {
    ip += fmt::format("{:09d}", be(b.data() + off, 4));
    off += 4;
  }
  size_t nz = ip.find_first_not_of('0');
  ip = nz == std::string::npos ? "0" : ip.substr(nz);
  std::string fp;
  for (int i = 0; i < frac0; ++i) {
    fp += fmt::format("{:09d}", be(b.data() + off, 4));
    off += 4;
  }
  if (frac0x > 0) {
    int len = kDig2Bytes[static_cast<size_t>(frac0x)];
    fp += fmt::format("{:0{}d}", be(b.data() + off, len), frac0x);
  }
  bool zero = ip == "0" && fp.find_first_not_of('0') == std::string::npos;
  std::string out = (negative && !zero) ? "-" : "";
  out += ip;
  if (scale > 0) out += "." + fp;
  return out;
}

std::string decode_date(const uint8_t* p) {
  uint32_t v = static_cast<uint32_t>(le(p, 3));
  return fmt::format("{:04d}-{:02d}-{:02d}", v >> 9, (v >> 5) & 15, v & 31);
}

std::string decode_datetime2(const uint8_t* p, int fsp, size_t* size) {
  int64_t intpart = static_cast<int64_t>(be(p, 5)) - 0x8000000000LL;
  int64_t frac = 0;
  size_t fb = static_cast<size_t>((fsp + 1) / 2);
  if (fb == 1) frac = static_cast<int8_t>(p[5]) * 10000;
  if (fb == 2) frac = sign_extend(be(p + 5, 2), 2) * 100;
  if (fb == 3) frac = sign_extend(be(p + 5, 3), 3);
  *size = 5 + fb;
  int64_t ymd = intpart >> 17, hms = intpart % (1 << 17);
  int64_t ym = ymd >> 5;
  return fmt::format("{:04d}-{:02d}-{:02d} {:02d}:{:02d}:{:02d}{}", ym / 13, ym % 13, ymd % 32,
                     hms >> 12, (hms >> 6) % 64, hms % 64, frac_text(frac, fsp));
}

std::string decode_time2(const uint8_t* p, int fsp, size_t* size) {
  size_t fb = static_cast<size_t>((fsp + 1) / 2);
  *size = 3 + fb;
  int64_t packed = 0;
  if (fb == 3) {
    packed = static_cast<int64_t>(be(p, 6)) - 0x800000000000LL;
  } else {
    int64_t intpart = static_cast<int64_t>(be(p, 3)) - 0x800000LL;
    int64_t frac = 0;
    if (fb == 1) {
      frac = p[3];
      if (intpart < 0 && frac != 0) {
        intpart++;
        frac -= 0x100;
      }
      frac *= 10000;
    } else if (fb == 2) {
      frac = static_cast<int64_t>(be(p + 3, 2));
      if (intpart < 0 && frac != 0) {
        intpart++;
        frac -= 0x10000;
      }
      frac *= 100;
    }
    packed = intpart * (int64_t{1} << 24) + frac;
  }
  bool negative = packed < 0;
  if (negative) packed = -packed;
  int64_t hms = packed >> 24, usec = packed % (int64_t{1} << 24);
  int64_t hour = (hms >> 12) % (1 << 10), minute = (hms >> 6) % 64, second = hms % 64;
  return fmt::format("{}{:02d}:{:02d}:{:02d}{}", negative ? "-" : "", hour, minute, second,
                     frac_text(usec, fsp));
}

std::string decode_timestamp2(const uint8_t* p, int fsp, size_t* size) {
  int64_t sec = static_cast<int64_t>(be(p, 4));
  size_t fb = static_cast<size_t>((fsp + 1) / 2);
  int64_t frac = 0;
  if (fb == 1) frac = p[4] * 10000;
  if (fb == 2) frac = static_cast<int64_t>(be(p + 4, 2)) * 100;
  if (fb == 3) frac = static_cast<int64_t>(be(p + 4, 3));
  *size = 4 + fb;
  if (sec == 0 && frac == 0) return "0000-00-00 00:00:00" + frac_text(0, fsp) + "+00";
  int y, m, d;
  civil_from_days(sec / 86400, &y, &m, &d);
  int64_t s = sec % 86400;
  return fmt::format("{:04d}-{:02d}-{:02d} {:02d}:{:02d}:{:02d}{}+00", y, m, d, s / 3600,
                     (s / 60) % 60, s % 60, frac_text(frac, fsp));
}

Result<TableMap> parse_table_map(std::string_view body, uint8_t post_header_len) {
  Cursor c{body};
  TableMap tm;
  tm.table_id = c.fixed(post_header_len == 6 ? 4 : 6);
  c.fixed(2);  // flags
  size_t n = c.fixed(1);
  tm.database = std::string(c.bytes(n));
  c.fixed(1);
  n = c.fixed(1);
  tm.table = std::string(c.bytes(n));
  c.fixed(1);
  uint64_t cols = c.lenenc();
  if (!c.ok || cols > 4096) return corruption("TABLE_MAP event: bad column count");
  auto types = c.bytes(cols);
  uint64_t meta_len = c.lenenc();
  auto meta = c.bytes(meta_len);
  if (!c.ok) return corruption("TABLE_MAP event truncated");
  Cursor m{meta};
  for (size_t i = 0; i < cols; ++i) {
    uint8_t t = static_cast<uint8_t>(types[i]);
    uint8_t real = t;
    uint32_t v = 0;
    switch (t) {
      case kTypeFloat:
      case kTypeDouble:
      case kTypeBlob:
      case kTypeTinyBlob:
      case kTypeMediumBlob:
      case kTypeLongBlob:
      case kTypeGeometry:
      case kTypeJson:
      case kTypeTimestamp2:
      case kTypeDatetime2:
      case kTypeTime2:
        v = static_cast<uint32_t>(m.fixed(1));
        break;
      case kTypeVarchar:
      case kTypeVarString:
        v = static_cast<uint32_t>(m.fixed(2));
        break;
      case kTypeBit: {
        uint32_t bits = static_cast<uint32_t>(m.fixed(1));
        uint32_t bytes = static_cast<uint32_t>(m.fixed(1));
        v = bytes * 8 + bits;
        break;
      }
      case kTypeNewDecimal: {
        uint32_t precision = static_cast<uint32_t>(m.fixed(1));
        uint32_t scale = static_cast<uint32_t>(m.fixed(1));
        v = precision << 8 | scale;
        break;
      }
      case kTypeString:
      case kTypeEnum:
      case kTypeSet: {
        uint8_t b0 = static_cast<uint8_t>(m.fixed(1));
        uint8_t b1 = static_cast<uint8_t>(m.fixed(1));
        if (t == kTypeString && (b0 & 0x30) != 0x30) {
          real = static_cast<uint8_t>(b0 | 0x30);
          v = b1 | ((((b0 & 0x30) ^ 0x30) << 4) & 0x300);
        } else {
          real = t == kTypeString ? b0 : t;
          v = b1;
        }
        break;
      }
      default:
        break;
    }
    tm.types.push_back(t);
    tm.real_types.push_back(real);
    tm.meta.push_back(v);
  }
  if (!m.ok) return corruption("TABLE_MAP event: metadata truncated");
  return tm;
}

Result<RowsEvent> parse_rows_header(std::string_view body, uint8_t event_type,
                                    uint8_t post_header_len) {
  Cursor c{body};
  RowsEvent ev;
  bool v2 = event_type >= 30 && event_type <= 32;
  int base = v2 ? 30 : 23;
  ev.kind = static_cast<RowsKind>(event_type - base);
  ev.table_id = c.fixed(post_header_len == 6 ? 4 : 6);
  ev.flags = static_cast<uint16_t>(c.fixed(2));
  if (v2) {
    uint64_t extra = c.fixed(2);
    if (extra < 2) return corruption("ROWS event: bad extra-data length");
    c.bytes(extra - 2);
  }
  ev.column_count = static_cast<uint32_t>(c.lenenc());
  size_t bm = (ev.column_count + 7) / 8;
  auto bits1 = c.bytes(bm);
  std::string_view bits2;
  if (ev.kind == RowsKind::kUpdate) bits2 = c.bytes(bm);
  if (!c.ok) return corruption("ROWS event truncated");
  for (uint32_t i = 0; i < ev.column_count; ++i) {
    ev.present.push_back((static_cast<uint8_t>(bits1[i / 8]) >> (i % 8)) & 1);
    if (ev.kind == RowsKind::kUpdate)
      ev.present_update.push_back((static_cast<uint8_t>(bits2[i / 8]) >> (i % 8)) & 1);
  }
  ev.data = body.substr(c.pos);
  return ev;
}

Result<std::string> decode_value(std::string_view data, size_t* pos, const ColumnCodec& codec) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(data.data()) + *pos;
  size_t avail = data.size() - *pos;
  auto need = [&](size_t n) -> Status {
    if (n > avail) {
      return corruption(fmt::format("row image truncated (column type {}, need {} bytes, have {})",
                                    codec.type, n, avail));
    }
    return Status::ok();
  };
  auto integer = [&](int n) -> Result<std::string> {
    SLUICE_RETURN_IF_ERROR(need(static_cast<size_t>(n)));
    *pos += static_cast<size_t>(n);
    uint64_t v = le(p, n);
    if (codec.is_unsigned) return std::to_string(v);
    return std::to_string(sign_extend(v, n));
  };
  auto counted = [&](int len_bytes) -> Result<std::string> {
    SLUICE_RETURN_IF_ERROR(need(static_cast<size_t>(len_bytes)));
    size_t len = static_cast<size_t>(le(p, len_bytes));
    SLUICE_RETURN_IF_ERROR(need(static_cast<size_t>(len_bytes) + len));
    *pos += static_cast<size_t>(len_bytes) + len;
    return std::string(reinterpret_cast<const char*>(p) + len_bytes, len);
  };
  int fsp = static_cast<int>(codec.meta);
  switch (codec.type) {
    case kTypeTiny:
      return integer(1);
    case kTypeShort:
      return integer(2);
    case kTypeInt24:
      return integer(3);
    case kTypeLong:
      return integer(4);
    case kTypeLongLong:
      return integer(8);
    case kTypeFloat: {
      SLUICE_RETURN_IF_ERROR(need(4));
      float f;
      std::memcpy(&f, p, 4);
      *pos += 4;
      return shortest(f);
    }
    case kTypeDouble: {
      SLUICE_RETURN_IF_ERROR(need(8));
      double d;
      std::memcpy(&d, p, 8);
      *pos += 8;
      return shortest(d);
    }
    case kTypeNewDecimal: {
      int precision = static_cast<int>(codec.meta >> 8), scale = static_cast<int>(codec.meta & 255);
      SLUICE_RETURN_IF_ERROR(need(decimal_binary_size(precision, scale)));
      size_t size = 0;
      std::string s = decode_decimal(p, precision, scale, &size);
      *pos += size;
      return s;
    }
    case kTypeDate:
    case kTypeNewDate:
      SLUICE_RETURN_IF_ERROR(need(3));
      *pos += 3;
      return decode_date(p);
    case kTypeTime2: {
      SLUICE_RETURN_IF_ERROR(need(3 + static_cast<size_t>((fsp + 1) / 2)));
      size_t size = 0;
      std::string s = decode_time2(p, fsp, &size);
      *pos += size;
      return s;
    }
    case kTypeDatetime2: {
      SLUICE_RETURN_IF_ERROR(need(5 + static_cast<size_t>((fsp + 1) / 2)));
      size_t size = 0;
      std::string s = decode_datetime2(p, fsp, &size);
      *pos += size;
      return s;
    }
    case kTypeTimestamp2: {
      SLUICE_RETURN_IF_ERROR(need(4 + static_cast<size_t>((fsp + 1) / 2)));
      size_t size = 0;
      std::string s = decode_timestamp2(p, fsp, &size);
      *pos += size;
      return s;
    }
    case kTypeTimestamp: {  // pre-5.6 format: seconds, little-endian
      SLUICE_RETURN_IF_ERROR(need(4));
      *pos += 4;
      uint32_t sec = static_cast<uint32_t>(le(p, 4));
      uint8_t be4[4] = {static_cast<uint8_t>(sec >> 24), static_cast<uint8_t>(sec >> 16),
                        static_cast<uint8_t>(sec >> 8), static_cast<uint8_t>(sec)};
      size_t size = 0;
      return decode_timestamp2(be4, 0, &size);
    }
    case kTypeDatetime: {  // pre-5.6: YYYYMMDDhhmmss as an integer
      SLUICE_RETURN_IF_ERROR(need(8));
      *pos += 8;
      uint64_t v = le(p, 8);
      uint64_t d = v / 1000000, t = v % 1000000;
      return fmt::format("{:04d}-{:02d}-{:02d} {:02d}:{:02d}:{:02d}", d / 10000, (d / 100) % 100,
                         d % 100, t / 10000, (t / 100) % 100, t % 100);
    }
    case kTypeTime: {  // pre-5.6: [-]HHMMSS as a 3-byte integer
      SLUICE_RETURN_IF_ERROR(need(3));
      *pos += 3;
      int64_t v = sign_extend(le(p, 3), 3);
      bool neg = v < 0;
      if (neg) v = -v;
      return fmt::format("{}{:02d}:{:02d}:{:02d}", neg ? "-" : "", v / 10000, (v / 100) % 100,
                         v % 100);
    }
    case kTypeYear: {
      SLUICE_RETURN_IF_ERROR(need(1));
      *pos += 1;
      return p[0] == 0 ? std::string("0000") : std::to_string(1900 + p[0]);
    }
    case kTypeVarchar:
    case kTypeVarString:
      return counted(codec.meta < 256 ? 1 : 2);
    case kTypeString:
      return counted(codec.meta > 255 ? 2 : 1);
    case kTypeEnum: {
      int n = codec.meta == 2 ? 2 : 1;
      SLUICE_RETURN_IF_ERROR(need(static_cast<size_t>(n)));
      *pos += static_cast<size_t>(n);
      uint64_t idx = le(p, n);
      if (idx == 0) return std::string();
      if (idx <= codec.members.size()) return codec.members[idx - 1];
      return std::to_string(idx);
    }
    case kTypeSet: {
      int n = static_cast<int>(codec.meta == 0 ? 1 : std::min<uint32_t>(codec.meta, 8));
      SLUICE_RETURN_IF_ERROR(need(static_cast<size_t>(n)));
      *pos += static_cast<size_t>(n);
      uint64_t bits = le(p, n);
      std::string out;
      for (size_t i = 0; i < 64 && i < codec.members.size(); ++i) {
        if ((bits >> i) & 1) {
          if (!out.empty()) out += ',';
          out += codec.members[i];
        }
      }
      return out;
    }
    case kTypeBlob:
    case kTypeTinyBlob:
    case kTypeMediumBlob:
    case kTypeLongBlob:
    case kTypeGeometry: {
      int n = static_cast<int>(codec.meta);
      if (n < 1 || n > 4) return corruption(fmt::format("BLOB column: bad length size {}", n));
      return counted(n);
    }
    case kTypeBit: {
      size_t n = (codec.meta + 7) / 8;
      SLUICE_RETURN_IF_ERROR(need(n));
      *pos += n;
      uint64_t v = be(p, static_cast<int>(n));
      if (codec.kind == ValueKind::kBool) return std::string(v ? "true" : "false");
      return std::to_string(v);
    }
    case kTypeJson:
      return unimplemented(
          "MySQL's binary JSON column type is not supported (MariaDB stores JSON as text)");
    default:
      return unimplemented(fmt::format("binlog column type {} is not supported", codec.type));
  }
}

Status decode_row_image(std::string_view data, size_t* pos, const std::vector<bool>& present,
                        const std::vector<ColumnCodec>& codecs, std::vector<Value>* out) {
  size_t n_present = 0;
  for (bool b : present)
    n_present += b ? 1 : 0;
  size_t nb = (n_present + 7) / 8;
  if (*pos + nb > data.size()) return corruption("row image truncated (NULL bitmap)");
  const uint8_t* nulls = reinterpret_cast<const uint8_t*>(data.data()) + *pos;
  *pos += nb;
  out->assign(present.size(), std::nullopt);
  size_t k = 0;
  for (size_t i = 0; i < present.size(); ++i) {
    if (!present[i]) continue;
    bool is_null = (nulls[k / 8] >> (k % 8)) & 1;
    ++k;
    if (is_null) continue;
    if (i >= codecs.size()) return corruption("row image has more columns than the TABLE_MAP");
    SLUICE_ASSIGN_OR_RETURN(auto v, decode_value(data, pos, codecs[i]));
    (*out)[i] = std::move(v);
  }
  return Status::ok();
}

std::vector<std::string> parse_members(std::string_view t) {
  std::vector<std::string> out;
  auto open = t.find('(');
  if (open == std::string_view::npos) return out;
  size_t i = open + 1;
  while (i < t.size()) {
    if (t[i] != '\'') {
      ++i;
      continue;
    }
    std::string cur;
    ++i;
    while (i < t.size()) {
      if (t[i] == '\'' && i + 1 < t.size() && t[i + 1] == '\'') {
        cur += '\'';
        i += 2;
      } else if (t[i] == '\\' && i + 1 < t.size()) {
        cur += t[i + 1];
        i += 2;
      } else if (t[i] == '\'') {
        ++i;
        break;
      } else {
        cur += t[i++];
      }
    }
    out.push_back(std::move(cur));
  }
  return out;
}

void classify_column(std::string_view data_type, std::string_view column_type, bool is_json,
                     Column* c) {
  std::string dt = lower_word(data_type);
  bool uns = column_type.find("unsigned") != std::string_view::npos;
  c->source_type = is_json ? "json" : std::string(column_type);
  c->precision = 0;
  c->scale = 0;
  if (is_json) {
    c->kind = ValueKind::kJson;
  } else if (dt == "tinyint" || dt == "year") {
    c->kind = ValueKind::kInt16;
  } else if (dt == "smallint") {
    c->kind = uns ? ValueKind::kInt32 : ValueKind::kInt16;
  } else if (dt == "mediumint") {
    c->kind = ValueKind::kInt32;
  } else if (dt == "int" || dt == "integer") {
    c->kind = uns ? ValueKind::kInt64 : ValueKind::kInt32;
  } else if (dt == "bigint") {
    if (uns) {
      c->kind = ValueKind::kDecimal;
      c->precision = 20;
    } else {
      c->kind = ValueKind::kInt64;
    }
  } else if (dt == "float") {
    c->kind = ValueKind::kFloat32;
  } else if (dt == "double" || dt == "real") {
    c->kind = ValueKind::kFloat64;
  } else if (dt == "decimal" || dt == "numeric") {
    c->kind = ValueKind::kDecimal;
    auto open = column_type.find('(');
    if (open != std::string_view::npos) {
      int p = 10, s = 0;
      auto r = std::from_chars(column_type.data() + open + 1,
                               column_type.data() + column_type.size(), p);
      if (r.ptr < column_type.data() + column_type.size() && *r.ptr == ',')
        std::from_chars(r.ptr + 1, column_type.data() + column_type.size(), s);
      c->precision = p;
      c->scale = s;
    } else {
      c->precision = 10;
    }
  } else if (dt == "date") {
    c->kind = ValueKind::kDate;
  } else if (dt == "time") {
    c->kind = ValueKind::kTime;
  } else if (dt == "datetime") {
    c->kind = ValueKind::kTimestamp;
  } else if (dt == "timestamp") {
    c->kind = ValueKind::kTimestampTz;
  } else if (dt == "bit") {
    int bits = paren_number(column_type, 1);
    if (bits == 1) {
      c->kind = ValueKind::kBool;
    } else if (bits < 64) {
      c->kind = ValueKind::kInt64;
    } else {
      c->kind = ValueKind::kDecimal;
      c->precision = 20;
    }
  } else if (dt == "binary" || dt == "varbinary" || dt == "blob" || dt == "tinyblob" ||
             dt == "mediumblob" || dt == "longblob") {
    c->kind = ValueKind::kBytes;
  } else if (dt == "char" || dt == "varchar" || dt == "text" || dt == "tinytext" ||
             dt == "mediumtext" || dt == "longtext" || dt == "enum" || dt == "set") {
    c->kind = ValueKind::kString;
  } else {
    c->kind = ValueKind::kOther;
  }
}

ColumnCodec make_codec(const Column& column, uint8_t real_type, uint32_t meta) {
  ColumnCodec c;
  c.type = real_type;
  c.meta = meta;
  c.kind = column.kind;
  c.is_unsigned = column.source_type.find("unsigned") != std::string::npos;
  std::string w = lower_word(column.source_type);
  if (w == "enum" || w == "set") c.members = parse_members(column.source_type);
  return c;
}

std::string snapshot_select_expr(const Column& column) {
  std::string name = "`";
  for (char ch : column.name) {
    name += ch;
    if (ch == '`') name += '`';
  }
  name += "`";
  std::string w = lower_word(column.source_type);
  if (w == "float") return "CAST(" + name + " AS DOUBLE)";
  if (w == "bit") return "CAST(" + name + " AS UNSIGNED)";
  return name;
}

std::string normalize_snapshot_value(const Column& column, std::string text) {
  std::string w = lower_word(column.source_type);
  if (w == "float") {
    double d = std::strtod(text.c_str(), nullptr);
    return shortest(static_cast<float>(d));
  }
  if (w == "double" || w == "real") {
    double d = std::strtod(text.c_str(), nullptr);
    return shortest(d);
  }
  if (column.kind == ValueKind::kBool && w == "bit") return text == "0" ? "false" : "true";
  if (column.kind == ValueKind::kTimestampTz) return text + "+00";
  return text;
}

uint64_t binlog_file_number(std::string_view file) {
  auto dot = file.rfind('.');
  if (dot == std::string_view::npos) return 0;
  uint64_t n = 0;
  std::from_chars(file.data() + dot + 1, file.data() + file.size(), n);
  return n;
}

}  // namespace sluice::cdc::mysql
