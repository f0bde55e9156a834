#include "bus/partition_log.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_map>

#include "bus/wire.h"
#include "common/log.h"

namespace sluice::bus {

namespace fs = std::filesystem;

namespace {

Status errno_status(std::string_view what, const fs::path& p) {
  return io_error(fmt::format("{} {}: {}", what, p.string(), std::strerror(errno)));
}

Status pread_all(int fd, char* buf, size_t n, int64_t pos, const fs::path& p) {
  while (n > 0) {
    ssize_t r = ::pread(fd, buf, n, pos);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return errno_status("reading", p);
    if (r == 0) return corruption(fmt::format("{}: unexpected end of file", p.string()));
    buf += r;
    n -= static_cast<size_t>(r);
    pos += r;
  }
  return Status::ok();
}

Status pwrite_all(int fd, const char* buf, size_t n, int64_t pos, const fs::path& p) {
  while (n > 0) {
    ssize_t r = ::pwrite(fd, buf, n, pos);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return errno_status("writing", p);
    buf += r;
    n -= static_cast<size_t>(r);
    pos += r;
  }
  return Status::ok();
}

// The start of the page holding byte `pos` (writeback is started on whole pages).
int64_t page_floor(int64_t pos) {
  constexpr int64_t kPageBytes = 4096;
  return pos & ~(kPageBytes - 1);
}

std::string segment_name(int64_t base, std::string_view ext) {
  return fmt::format("{:020d}{}", base, ext);
}

}  // namespace

// One segment file with its two indexes (kept in memory, appended to their files).
class Segment {
 public:
  struct IndexEntry {
    int64_t offset;
    int64_t position;
  };
  struct TimeEntry {
    int64_t timestamp;
    int64_t offset;
  };

  Segment(fs::path dir, int64_t base) : dir_(std::move(dir)), base_offset_(base) {}
  ~Segment() { close_files(); }

  fs::path log_path() const { return dir_ / segment_name(base_offset_, ".log"); }
  int log_fd() const { return fd_; }
  fs::path index_path() const { return dir_ / segment_name(base_offset_, ".index"); }
  fs::path time_path() const { return dir_ / segment_name(base_offset_, ".timeindex"); }

  Status open_files(bool create) {
    int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0);
    fd_ = ::open(log_path().c_str(), flags, 0644);
    if (fd_ < 0) return errno_status("opening", log_path());
    idx_fd_ = ::open(index_path().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (idx_fd_ < 0) return errno_status("opening", index_path());
    time_fd_ = ::open(time_path().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (time_fd_ < 0) return errno_status("opening", time_path());
    return Status::ok();
  }
  void close_files() {
    flush_indexes();
    for (int* fd : {&fd_, &idx_fd_, &time_fd_}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
  }

  // Recovers the segment: loads indexes (unless `full_scan`), scans forward from the last
  // indexed position, validating CRCs when `validate`, and truncates at the first bad batch.
  Status recover(bool full_scan, bool validate, int32_t index_interval) {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return errno_status("stat", log_path());
    int64_t file_size = st.st_size;
    index_.clear();
    time_index_.clear();
    int64_t pos = 0;
    next_offset_ = base_offset_;
    max_timestamp_ = -1;
    if (!full_scan) load_indexes(file_size);
    if (!index_.empty()) pos = index_.back().position;
    if (!time_index_.empty()) max_timestamp_ = time_index_.back().timestamp;
    bytes_since_index_ = index_.empty() ? index_interval : 0;
    bool truncated = false;
    std::string buf;
    while (pos < file_size) {
      char hdr[kBatchHeaderSize];
      if (file_size - pos < static_cast<int64_t>(kBatchHeaderSize)) {
        truncated = true;
        break;
      }
      SLUICE_RETURN_IF_ERROR(pread_all(fd_, hdr, sizeof(hdr), pos, log_path()));
      auto h = parse_batch_header(std::string_view(hdr, sizeof(hdr)));
      if (!h.is_ok() || static_cast<int64_t>(h->total_size()) > file_size - pos ||
          h->base_offset < next_offset_) {
        truncated = true;
        break;
      }
      if (validate) {
        buf.resize(h->total_size());
        SLUICE_RETURN_IF_ERROR(pread_all(fd_, buf.data(), buf.size(), pos, log_path()));
        if (!validate_batch(buf, *h).is_ok()) {
          truncated = true;
          break;
        }
      }
      if (!index_.empty() && index_.back().position == pos) {
        // Already indexed (the scan restarts at the last entry).
      } else {
        note_batch(*h, pos, index_interval, /*persist=*/false);
      }
      next_offset_ = h->last_offset() + 1;
      max_timestamp_ = std::max(max_timestamp_, h->max_timestamp);
      pos += static_cast<int64_t>(h->total_size());
    }
    size_ = pos;
    writeback_from_ = page_floor(pos);
    if (truncated || pos != file_size) {
      log::warn("truncating torn log tail",
                {log::kv("segment", log_path().string()), log::kv("valid_bytes", pos),
                 log::kv("file_bytes", file_size)});
      if (::ftruncate(fd_, pos) != 0) return errno_status("truncating", log_path());
      if (::fsync(fd_) != 0) return errno_status("fsync", log_path());
    }
    return rewrite_indexes();
  }

  // Records a batch at `pos` in the in-memory indexes (and their files when `persist`).
  void note_batch(const BatchHeader& h, int64_t pos, int32_t index_interval, bool persist) {
    bytes_since_index_ += static_cast<int64_t>(h.total_size());
    if (bytes_since_index_ >= index_interval || index_.empty()) {
      index_.push_back({h.base_offset, pos});
      if (persist) append_index_entry(index_.back());
      bytes_since_index_ = 0;
      int64_t max_ts = std::max(max_timestamp_, h.max_timestamp);
      if (time_index_.empty() || max_ts > time_index_.back().timestamp) {
        time_index_.push_back({max_ts, h.base_offset});
        if (persist) append_time_entry(time_index_.back());
      }
    }
  }

  Status append(std::string_view batch, const BatchHeader& h, int32_t index_interval,
                int64_t writeback_bytes) {
    SLUICE_RETURN_IF_ERROR(pwrite_all(fd_, batch.data(), batch.size(), size_, log_path()));
    note_batch(h, size_, index_interval, /*persist=*/true);
    size_ += static_cast<int64_t>(batch.size());
    next_offset_ = h.last_offset() + 1;
    max_timestamp_ = std::max(max_timestamp_, h.max_timestamp);
    if (writeback_bytes > 0 && size_ - writeback_from_ >= writeback_bytes) {
      // Whole pages only: the partly written last page is left for the next round, so an
      // append never waits for a page that is being written back.
      int64_t end = page_floor(size_);
      if (end > writeback_from_) {
        // Advisory: a failure here (EIO would also fail the next fsync) changes nothing.
        (void)::sync_file_range(fd_, writeback_from_, end - writeback_from_, SYNC_FILE_RANGE_WRITE);
        writeback_from_ = end;
      }
    }
    return Status::ok();
  }

  Status sync() {
    flush_indexes();
    if (::fdatasync(fd_) != 0) return errno_status("fsync", log_path());
    return Status::ok();
  }

  // Position of the first batch whose last offset is >= `offset`, or size() if none.
  Result<int64_t> find_position(int64_t offset) const {
    int64_t pos = 0;
    auto it = std::upper_bound(index_.begin(), index_.end(), offset,
                               [](int64_t o, const IndexEntry& e) { return o < e.offset; });
    if (it != index_.begin()) pos = std::prev(it)->position;
    while (pos < size_) {
      SLUICE_ASSIGN_OR_RETURN(auto h, header_at(pos));
      if (h.last_offset() >= offset) return pos;
      pos += static_cast<int64_t>(h.total_size());
    }
    return size_;
  }

  Result<BatchHeader> header_at(int64_t pos) const {
    char hdr[kBatchHeaderSize];
    SLUICE_RETURN_IF_ERROR(pread_all(fd_, hdr, sizeof(hdr), pos, log_path()));
    return parse_batch_header(std::string_view(hdr, sizeof(hdr)));
  }

  Status read_bytes(int64_t pos, size_t n, std::string* out) const {
    size_t at = out->size();
    out->resize(at + n);
    return pread_all(fd_, out->data() + at, n, pos, log_path());
  }

  // Offset to start a timestamp search from: the last time-index entry below ts.
  int64_t time_lookup(int64_t ts) const {
    int64_t from = base_offset_;
    for (const auto& e : time_index_) {
      if (e.timestamp < ts)
        from = e.offset;
      else
        break;
    }
    return from;
  }

  Status remove_files() {
    close_files();
    std::error_code ec;
    for (const auto& p : {log_path(), index_path(), time_path()})
      fs::remove(p, ec);
    return Status::ok();
  }

  int64_t base_offset() const { return base_offset_; }
  int64_t next_offset() const { return next_offset_; }
  int64_t size() const { return size_; }
  int64_t max_timestamp() const { return max_timestamp_; }
  int fd() const { return fd_; }

 private:
  void load_indexes(int64_t file_size) {
    std::string raw;
    auto slurp = [&](int fd) {
      struct stat st {};
      raw.clear();
      if (::fstat(fd, &st) != 0) return;
      raw.resize(static_cast<size_t>(st.st_size));
      if (!pread_all(fd, raw.data(), raw.size(), 0, index_path()).is_ok()) raw.clear();
    };
    slurp(idx_fd_);
    for (size_t i = 0; i + 8 <= raw.size(); i += 8) {
      IndexEntry e{base_offset_ + load_be32(raw.data() + i), load_be32(raw.data() + i + 4)};
      bool sane = e.position < file_size &&
                  (index_.empty() ||
                   (e.offset > index_.back().offset && e.position > index_.back().position));
      if (!sane) break;
      index_.push_back(e);
    }
    slurp(time_fd_);
    for (size_t i = 0; i + 12 <= raw.size(); i += 12) {
      TimeEntry e{load_be64(raw.data() + i), base_offset_ + load_be32(raw.data() + i + 8)};
      if (!index_.empty() && e.offset > index_.back().offset) break;
      if (!time_index_.empty() && e.timestamp <= time_index_.back().timestamp) break;
      time_index_.push_back(e);
    }
  }

  Status rewrite_indexes() {
    idx_pending_.clear();
    time_pending_.clear();
    std::string idx, tim;
    WireWriter wi(&idx), wt(&tim);
    for (const auto& e : index_) {
      wi.i32(static_cast<int32_t>(e.offset - base_offset_));
      wi.i32(static_cast<int32_t>(e.position));
    }
    for (const auto& e : time_index_) {
      wt.i64(e.timestamp);
      wt.i32(static_cast<int32_t>(e.offset - base_offset_));
    }
    if (::ftruncate(idx_fd_, 0) != 0 || ::ftruncate(time_fd_, 0) != 0) {
      return errno_status("truncating index of", log_path());
    }
    SLUICE_RETURN_IF_ERROR(pwrite_all(idx_fd_, idx.data(), idx.size(), 0, index_path()));
    SLUICE_RETURN_IF_ERROR(pwrite_all(time_fd_, tim.data(), tim.size(), 0, time_path()));
    idx_size_ = static_cast<int64_t>(idx.size());
    time_size_ = static_cast<int64_t>(tim.size());
    return Status::ok();
  }

  // Index entries are buffered and written in bulk (when 4 KiB gather, at a sync, a roll and
  // on close): the active segment's indexes are rebuilt by recovery's full scan, and a sealed
  // segment's are flushed when it rolls, so a lost tail only costs a longer scan.
  void append_index_entry(const IndexEntry& e) {
    char b[8];
    store_be32(b, static_cast<int32_t>(e.offset - base_offset_));
    store_be32(b + 4, static_cast<int32_t>(e.position));
    idx_pending_.append(b, sizeof(b));
    if (idx_pending_.size() >= 4096) flush_indexes();
  }
  void append_time_entry(const TimeEntry& e) {
    char b[12];
    store_be64(b, e.timestamp);
    store_be32(b + 8, static_cast<int32_t>(e.offset - base_offset_));
    time_pending_.append(b, sizeof(b));
    if (time_pending_.size() >= 4096) flush_indexes();
  }

 public:
  void flush_indexes() {
    // Index files are rebuilt on recovery, so a failed write only costs a rescan.
    if (!idx_pending_.empty() && idx_fd_ >= 0 &&
        pwrite_all(idx_fd_, idx_pending_.data(), idx_pending_.size(), idx_size_, index_path())
            .is_ok()) {
      idx_size_ += static_cast<int64_t>(idx_pending_.size());
    }
    idx_pending_.clear();
    if (!time_pending_.empty() && time_fd_ >= 0 &&
        pwrite_all(time_fd_, time_pending_.data(), time_pending_.size(), time_size_, time_path())
            .is_ok()) {
      time_size_ += static_cast<int64_t>(time_pending_.size());
    }
    time_pending_.clear();
  }

 private:
  fs::path dir_;
  int64_t base_offset_;
  int fd_ = -1, idx_fd_ = -1, time_fd_ = -1;
  int64_t size_ = 0, idx_size_ = 0, time_size_ = 0;
  int64_t writeback_from_ = 0;  // appended bytes from here on have no writeback started
  std::string idx_pending_, time_pending_;
  int64_t next_offset_ = 0;
  int64_t max_timestamp_ = -1;
  int64_t bytes_since_index_ = 0;
  std::vector<IndexEntry> index_;
  std::vector<TimeEntry> time_index_;
};

PartitionLog::PartitionLog(fs::path dir, LogConfig config)
    : dir_(std::move(dir)), config_(config) {}

PartitionLog::~PartitionLog() = default;

Result<std::unique_ptr<PartitionLog>> PartitionLog::open(const fs::path& dir,
                                                         const LogConfig& config) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return io_error(fmt::format("creating {}: {}", dir.string(), ec.message()));
  std::unique_ptr<PartitionLog> log(new PartitionLog(dir, config));
  std::vector<int64_t> bases;
  for (const auto& entry : fs::directory_iterator(dir)) {
    auto name = entry.path().filename().string();
    if (name.size() == 24 && name.ends_with(".log")) {
      bases.push_back(std::stoll(name.substr(0, 20)));
    } else if (name.ends_with(".cleaned")) {
      fs::remove(entry.path(), ec);  // an interrupted compaction; the original is intact
    }
  }
  std::sort(bases.begin(), bases.end());
  for (size_t i = 0; i < bases.size(); ++i) {
    auto seg = std::make_unique<Segment>(dir, bases[i]);
    SLUICE_RETURN_IF_ERROR(seg->open_files(false));
    bool active = i + 1 == bases.size();
    SLUICE_RETURN_IF_ERROR(
        seg->recover(/*full_scan=*/active, /*validate=*/active, config.index_interval_bytes));
    log->segments_.push_back(std::move(seg));
  }
  if (log->segments_.empty()) {
    auto seg = std::make_unique<Segment>(dir, 0);
    SLUICE_RETURN_IF_ERROR(seg->open_files(true));
    log->segments_.push_back(std::move(seg));
  }
  log->next_offset_ =
      std::max(log->segments_.back()->next_offset(), log->segments_.back()->base_offset());
  log->high_watermark_ = log->next_offset_;  // what survived on disk is visible
  // Rebuild idempotent-producer state from the newest segment's batch headers.
  const auto& active = *log->segments_.back();
  for (int64_t pos = 0; pos < active.size();) {
    SLUICE_ASSIGN_OR_RETURN(auto h, active.header_at(pos));
    log->remember_producer(h);
    pos += static_cast<int64_t>(h.total_size());
  }
  return log;
}

int64_t PartitionLog::log_start_offset() const {
  return segments_.front()->base_offset();
}

int64_t PartitionLog::size_bytes() const {
  int64_t n = 0;
  for (const auto& s : segments_)
    n += s->size();
  return n;
}

Status PartitionLog::roll() {
  SLUICE_RETURN_IF_ERROR(segments_.back()->sync());  // also writes its buffered index entries
  auto seg = std::make_unique<Segment>(dir_, next_offset_);
  SLUICE_RETURN_IF_ERROR(seg->open_files(true));
  segments_.push_back(std::move(seg));
  return Status::ok();
}

void PartitionLog::remember_producer(const BatchHeader& h) {
  if (h.producer_id < 0) return;
  auto& ps = producers_[h.producer_id];
  if (h.producer_epoch != ps.epoch) {
    ps.epoch = h.producer_epoch;
    ps.recent.clear();
  }
  ps.recent.push_back({h.base_sequence, h.base_sequence + h.last_offset_delta, h.base_offset});
  while (ps.recent.size() > 5)
    ps.recent.pop_front();
}

AppendOutcome PartitionLog::append(std::string_view record_set) {
  std::string copy(record_set);
  return append_in_place(copy.data(), copy.size());
}

AppendOutcome PartitionLog::append_in_place(char* data, size_t size) {
  AppendOutcome out;
  const std::string_view record_set(data, size);
  // Validate every batch first so a request is applied whole or not at all. Only the headers
  // are parsed and the CRC checked; records are decoded only on compacted topics (keys).
  struct Pending {
    size_t pos;
    BatchHeader header;
  };
  std::vector<Pending> pending;
  size_t pos = 0;
  while (pos < record_set.size()) {
    auto h = parse_batch_header(record_set.substr(pos));
    if (!h.is_ok()) {
      out.error = KafkaError::kCorruptMessage;
      out.message = h.status().message();
      return out;
    }
    if (h->total_size() > record_set.size() - pos) {
      out.error = KafkaError::kCorruptMessage;
      out.message = "record batch extends past the end of the record set";
      return out;
    }
    std::string_view batch = record_set.substr(pos, h->total_size());
    if (Status st = validate_batch(batch, *h); !st.is_ok()) {
      out.error = KafkaError::kCorruptMessage;
      out.message = st.message();
      return out;
    }
    if (static_cast<int64_t>(batch.size()) > config_.max_message_bytes) {
      out.error = KafkaError::kMessageTooLarge;
      out.message = fmt::format("batch of {} bytes exceeds max.message.bytes {}", batch.size(),
                                config_.max_message_bytes);
      return out;
    }
    if (h->is_transactional()) {
      out.error = KafkaError::kUnsupportedForMessageFormat;
      out.message = "transactional batches are not supported";
      return out;
    }
    if (config_.cleanup_compact) {
      auto recs = decode_records(batch, *h);
      if (!recs.is_ok()) {
        out.error = KafkaError::kCorruptMessage;
        out.message = recs.status().message();
        return out;
      }
      for (const auto& r : *recs) {
        if (!r.key) {
          out.error = KafkaError::kInvalidRecord;
          out.message = "a compacted topic needs a key on every record";
          return out;
        }
      }
    }
    pending.push_back({pos, *h});
    pos += h->total_size();
  }
  if (pending.empty()) {
    out.error = KafkaError::kCorruptMessage;
    out.message = "empty record set";
    return out;
  }

  // Idempotent producers (KIP-98): a batch whose sequence range matches one of the producer's
  // last five is a retry; answer with its original offset and append nothing.
  const BatchHeader& first = pending.front().header;
  if (first.producer_id >= 0 && pending.size() == 1) {
    auto it = producers_.find(first.producer_id);
    if (it != producers_.end()) {
      const auto& ps = it->second;
      if (first.producer_epoch < ps.epoch) {
        out.error = KafkaError::kInvalidProducerEpoch;
        out.message = fmt::format("producer {} epoch {} is older than {}", first.producer_id,
                                  first.producer_epoch, ps.epoch);
        return out;
      }
      if (first.producer_epoch == ps.epoch) {
        int32_t last_seq = first.base_sequence + first.last_offset_delta;
        for (const auto& b : ps.recent) {
          if (b.first_seq == first.base_sequence && b.last_seq == last_seq) {
            out.base_offset = b.base_offset;
            return out;
          }
        }
        int32_t expected = ps.recent.empty() ? 0 : ps.recent.back().last_seq + 1;
        if (expected < 0) expected = 0;  // sequence numbers wrap at INT32_MAX
        if (first.base_sequence != expected) {
          out.error = KafkaError::kOutOfOrderSequenceNumber;
          out.message = fmt::format("producer {} sent sequence {}, expected {}", first.producer_id,
                                    first.base_sequence, expected);
          return out;
        }
      } else if (first.base_sequence != 0) {
        out.error = KafkaError::kOutOfOrderSequenceNumber;
        out.message = fmt::format("producer {} new epoch {} must start at sequence 0",
                                  first.producer_id, first.producer_epoch);
        return out;
      }
    }
  }

  for (auto& p : pending) {
    auto& seg = *segments_.back();
    char* bytes = data + p.pos;
    const size_t n = p.header.total_size();
    if (seg.size() > 0 && seg.size() + static_cast<int64_t>(n) > config_.segment_bytes) {
      if (Status st = roll(); !st.is_ok()) {
        out.error = KafkaError::kKafkaStorageError;
        out.message = st.message();
        return out;
      }
    }
    p.header.base_offset = next_offset_;
    p.header.leader_epoch = 0;
    // Base offset and leader epoch are outside the CRC: patched in place, then written as is.
    store_be64(bytes + kBatchBaseOffsetPos, next_offset_);
    store_be32(bytes + kBatchLeaderEpochPos, 0);
    if (Status st = segments_.back()->append(std::string_view(bytes, n), p.header,
                                             config_.index_interval_bytes, config_.writeback_bytes);
        !st.is_ok()) {
      out.error = KafkaError::kKafkaStorageError;
      out.message = st.message();
      return out;
    }
    if (out.base_offset < 0) out.base_offset = next_offset_;
    next_offset_ = p.header.last_offset() + 1;
    remember_producer(p.header);
    dirty_ = true;
  }
  return out;
}

Status PartitionLog::sync() {
  if (!dirty_) return Status::ok();
  dirty_ = false;
  return segments_.back()->sync();
}

Result<int> PartitionLog::take_dirty_fd() {
  if (!dirty_) return -1;
  segments_.back()->flush_indexes();
  dirty_ = false;
  return dup_active_fd();
}

Result<int> PartitionLog::dup_active_fd() const {
  int fd = ::dup(segments_.back()->log_fd());
  if (fd < 0) return errno_status("dup", segments_.back()->log_path());
  return fd;
}

Result<size_t> PartitionLog::read(int64_t offset, size_t max_bytes, std::string* out,
                                  int64_t limit_offset) const {
  if (offset < log_start_offset() || offset > next_offset_) {
    return invalid_argument(
        fmt::format("offset {} is outside [{}, {}]", offset, log_start_offset(), next_offset_));
  }
  size_t read = 0;
  bool limited = false;
  auto it = std::upper_bound(
      segments_.begin(), segments_.end(), offset,
      [](int64_t o, const std::unique_ptr<Segment>& s) { return o < s->base_offset(); });
  if (it != segments_.begin()) --it;
  for (; it != segments_.end(); ++it) {
    const Segment& seg = **it;
    SLUICE_ASSIGN_OR_RETURN(int64_t pos, seg.find_position(offset));
    if (pos >= seg.size()) continue;
    // One pread of up to the budget (at least the first batch) straight into `out`, then whole
    // batches are kept by walking their headers in memory.
    SLUICE_ASSIGN_OR_RETURN(auto first, seg.header_at(pos));
    size_t budget = max_bytes > read ? max_bytes - read : 0;
    size_t want = std::min<size_t>(static_cast<size_t>(seg.size() - pos),
                                   std::max(budget, read == 0 ? first.total_size() : 0));
    if (want == 0) break;
    size_t at = out->size();
    SLUICE_RETURN_IF_ERROR(seg.read_bytes(pos, want, out));
    size_t keep = 0;
    while (keep + kBatchHeaderSize <= want) {
      SLUICE_ASSIGN_OR_RETURN(
          auto h, parse_batch_header(std::string_view(out->data() + at + keep, want - keep)));
      if (h.base_offset >= limit_offset) {
        limited = true;
        break;
      }
      size_t n = h.total_size();
      if (keep + n > want) break;
      if (keep > 0 && read + keep + n > max_bytes) break;
      keep += n;
    }
    out->resize(at + keep);
    read += keep;
    if (limited || pos + static_cast<int64_t>(keep) < seg.size() || read >= max_bytes) break;
  }
  return read;
}

Result<std::pair<int64_t, int64_t>> PartitionLog::offset_for_timestamp(int64_t ts) const {
  for (const auto& seg : segments_) {
    if (seg->max_timestamp() < ts) continue;
    int64_t from = seg->time_lookup(ts);
    SLUICE_ASSIGN_OR_RETURN(int64_t pos, seg->find_position(from));
    while (pos < seg->size()) {
      SLUICE_ASSIGN_OR_RETURN(auto h, seg->header_at(pos));
      if (h.max_timestamp >= ts) {
        std::string batch;
        SLUICE_RETURN_IF_ERROR(seg->read_bytes(pos, h.total_size(), &batch));
        SLUICE_ASSIGN_OR_RETURN(auto recs, decode_records(batch, h));
        for (const auto& r : recs) {
          if (r.timestamp >= ts) return std::make_pair(r.offset, r.timestamp);
        }
      }
      pos += static_cast<int64_t>(h.total_size());
    }
  }
  return std::make_pair<int64_t, int64_t>(-1, -1);
}

Status PartitionLog::delete_front_segment() {
  auto seg = std::move(segments_.front());
  segments_.erase(segments_.begin());
  log::info("deleted log segment", {log::kv("segment", seg->log_path().string())});
  return seg->remove_files();
}

Status PartitionLog::apply_retention(int64_t now_ms) {
  if (!config_.cleanup_delete) return Status::ok();
  if (config_.retention_ms >= 0) {
    // An expired active segment is rolled first so it can go too (the log end stays put).
    auto& active = *segments_.back();
    if (active.size() > 0 && active.max_timestamp() < now_ms - config_.retention_ms) {
      SLUICE_RETURN_IF_ERROR(roll());
    }
    while (segments_.size() > 1 &&
           segments_.front()->max_timestamp() < now_ms - config_.retention_ms)
      SLUICE_RETURN_IF_ERROR(delete_front_segment());
  }
  if (config_.retention_bytes >= 0) {
    while (segments_.size() > 1 &&
           size_bytes() - segments_.front()->size() >= config_.retention_bytes)
      SLUICE_RETURN_IF_ERROR(delete_front_segment());
  }
  return Status::ok();
}

Status PartitionLog::compact(int64_t now_ms) {
  if (!config_.cleanup_compact || segments_.size() < 2) return Status::ok();
  if (compacted_at_end_ == next_offset_) return Status::ok();
  compacted_at_end_ = next_offset_;
  // Pass 1: the newest offset of every key, over the whole log.
  std::unordered_map<std::string, int64_t> latest;
  for (const auto& seg : segments_) {
    std::string batch;
    for (int64_t pos = 0; pos < seg->size();) {
      SLUICE_ASSIGN_OR_RETURN(auto h, seg->header_at(pos));
      batch.clear();
      SLUICE_RETURN_IF_ERROR(seg->read_bytes(pos, h.total_size(), &batch));
      SLUICE_ASSIGN_OR_RETURN(auto recs, decode_records(batch, h));
      for (auto& r : recs)
        if (r.key) latest[*r.key] = r.offset;
      pos += static_cast<int64_t>(h.total_size());
    }
  }
  // Pass 2: rewrite each sealed segment with the survivors, then swap it in by rename.
  int64_t removed = 0;
  for (size_t i = 0; i + 1 < segments_.size(); ++i) {
    Segment& seg = *segments_[i];
    std::string cleaned, batch;
    bool changed = false;
    for (int64_t pos = 0; pos < seg.size();) {
      SLUICE_ASSIGN_OR_RETURN(auto h, seg.header_at(pos));
      batch.clear();
      SLUICE_RETURN_IF_ERROR(seg.read_bytes(pos, h.total_size(), &batch));
      pos += static_cast<int64_t>(h.total_size());
      SLUICE_ASSIGN_OR_RETURN(auto recs, decode_records(batch, h));
      std::vector<Record> keep;
      for (auto& r : recs) {
        bool newest = !r.key || latest[*r.key] == r.offset;
        bool expired_tombstone = !r.value && h.max_timestamp < now_ms - config_.delete_retention_ms;
        if (newest && !expired_tombstone) keep.push_back(std::move(r));
      }
      removed += static_cast<int64_t>(recs.size() - keep.size());
      if (keep.size() == recs.size()) {
        cleaned += batch;
      } else {
        changed = true;
        if (!keep.empty()) cleaned += encode_batch(h, keep);
      }
    }
    if (!changed) continue;
    fs::path tmp = seg.log_path();
    tmp += ".cleaned";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return errno_status("creating", tmp);
    Status st = pwrite_all(fd, cleaned.data(), cleaned.size(), 0, tmp);
    if (st.is_ok() && ::fsync(fd) != 0) st = errno_status("fsync", tmp);
    ::close(fd);
    SLUICE_RETURN_IF_ERROR(st);
    int64_t base = seg.base_offset();
    seg.close_files();
    std::error_code ec;
    fs::rename(tmp, seg.log_path(), ec);
    if (ec) return io_error(fmt::format("renaming {}: {}", tmp.string(), ec.message()));
    auto fresh = std::make_unique<Segment>(dir_, base);
    SLUICE_RETURN_IF_ERROR(fresh->open_files(false));
    SLUICE_RETURN_IF_ERROR(fresh->recover(true, false, config_.index_interval_bytes));
    segments_[i] = std::move(fresh);
  }
  if (removed > 0) {
    log::info("compacted partition log",
              {log::kv("dir", dir_.string()), log::kv("records_removed", removed)});
  }
  return Status::ok();
}

}  // namespace sluice::bus
