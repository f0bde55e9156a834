// CRC-32C (Castagnoli), the checksum of Kafka record batches (protocol guide, "Record Batch":
// the CRC covers the batch from the attributes field to the end). Uses the SSE4.2 instruction
// when the CPU has it, else a slicing-by-8 table.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::bus {

uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);

}  // namespace sluice::bus
