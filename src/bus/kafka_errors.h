// Kafka protocol error codes (the int16 numbers of the Kafka protocol guide, "Error Codes") and
// the one mapping from Sluice's StatusCode to them. Every Kafka response the broker writes takes
// its error codes from here.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status.h"

namespace sluice::bus {

enum class KafkaError : int16_t {
  kUnknownServerError = -1,
  kNone = 0,
  kOffsetOutOfRange = 1,
  kCorruptMessage = 2,
  kUnknownTopicOrPartition = 3,
  kInvalidFetchSize = 4,
  kLeaderNotAvailable = 5,
  kNotLeaderOrFollower = 6,
  kRequestTimedOut = 7,
  kMessageTooLarge = 10,
  kOffsetMetadataTooLarge = 12,
  kCoordinatorLoadInProgress = 14,
  kCoordinatorNotAvailable = 15,
  kNotCoordinator = 16,
  kInvalidTopicException = 17,
  kRecordListTooLarge = 18,
  kInvalidRequiredAcks = 21,
  kIllegalGeneration = 22,
  kInconsistentGroupProtocol = 23,
  kInvalidGroupId = 24,
  kUnknownMemberId = 25,
  kInvalidSessionTimeout = 26,
  kRebalanceInProgress = 27,
  kTopicAuthorizationFailed = 29,
  kInvalidTimestamp = 32,
  kUnsupportedVersion = 35,
  kTopicAlreadyExists = 36,
  kInvalidPartitions = 37,
  kInvalidReplicationFactor = 38,
  kInvalidReplicaAssignment = 39,
  kInvalidConfig = 40,
  kInvalidRequest = 42,
  kUnsupportedForMessageFormat = 43,
  kOutOfOrderSequenceNumber = 45,
  kDuplicateSequenceNumber = 46,
  kInvalidProducerEpoch = 47,
  kKafkaStorageError = 56,
  kUnknownProducerId = 59,
  kGroupIdNotFound = 69,
  kInvalidRecord = 87,
};

constexpr int16_t code(KafkaError e) {
  return static_cast<int16_t>(e);
}

// Kafka's upper-case name, e.g. "UNKNOWN_TOPIC_OR_PARTITION" (for logs and messages).
std::string_view kafka_error_name(KafkaError e);

// The one mapping from an internal Status to the Kafka code a client sees.
KafkaError to_kafka_error(const Status& st);

}  // namespace sluice::bus
