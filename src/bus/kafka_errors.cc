#include "bus/kafka_errors.h"

namespace sluice::bus {

std::string_view kafka_error_name(KafkaError e) {
  switch (e) {
    case KafkaError::kUnknownServerError:
      return "UNKNOWN_SERVER_ERROR";
    case KafkaError::kNone:
      return "NONE";
    case KafkaError::kOffsetOutOfRange:
      return "OFFSET_OUT_OF_RANGE";
    case KafkaError::kCorruptMessage:
      return "CORRUPT_MESSAGE";
    case KafkaError::kUnknownTopicOrPartition:
      return "UNKNOWN_TOPIC_OR_PARTITION";
    case KafkaError::kInvalidFetchSize:
      return "INVALID_FETCH_SIZE";
    case KafkaError::kLeaderNotAvailable:
      return "LEADER_NOT_AVAILABLE";
    case KafkaError::kNotLeaderOrFollower:
      return "NOT_LEADER_OR_FOLLOWER";
    case KafkaError::kRequestTimedOut:
      return "REQUEST_TIMED_OUT";
    case KafkaError::kMessageTooLarge:
      return "MESSAGE_TOO_LARGE";
    case KafkaError::kOffsetMetadataTooLarge:
      return "OFFSET_METADATA_TOO_LARGE";
    case KafkaError::kCoordinatorLoadInProgress:
      return "COORDINATOR_LOAD_IN_PROGRESS";
    case KafkaError::kCoordinatorNotAvailable:
      return "COORDINATOR_NOT_AVAILABLE";
    case KafkaError::kNotCoordinator:
      return "NOT_COORDINATOR";
    case KafkaError::kInvalidTopicException:
      return "INVALID_TOPIC_EXCEPTION";
    case KafkaError::kRecordListTooLarge:
      return "RECORD_LIST_TOO_LARGE";
    case KafkaError::kInvalidRequiredAcks:
      return "INVALID_REQUIRED_ACKS";
    case KafkaError::kIllegalGeneration:
      return "ILLEGAL_GENERATION";
    case KafkaError::kInconsistentGroupProtocol:
      return "INCONSISTENT_GROUP_PROTOCOL";
    case KafkaError::kInvalidGroupId:
      return "INVALID_GROUP_ID";
    case KafkaError::kUnknownMemberId:
      return "UNKNOWN_MEMBER_ID";
    case KafkaError::kInvalidSessionTimeout:
      return "INVALID_SESSION_TIMEOUT";
    case KafkaError::kRebalanceInProgress:
      return "REBALANCE_IN_PROGRESS";
    case KafkaError::kTopicAuthorizationFailed:
      return "TOPIC_AUTHORIZATION_FAILED";
    case KafkaError::kInvalidTimestamp:
      return "INVALID_TIMESTAMP";
    case KafkaError::kUnsupportedVersion:
      return "UNSUPPORTED_VERSION";
    case KafkaError::kTopicAlreadyExists:
      return "TOPIC_ALREADY_EXISTS";
    case KafkaError::kInvalidPartitions:
      return "INVALID_PARTITIONS";
    case KafkaError::kInvalidReplicationFactor:
      return "INVALID_REPLICATION_FACTOR";
    case KafkaError::kInvalidReplicaAssignment:
      return "INVALID_REPLICA_ASSIGNMENT";
    case KafkaError::kInvalidConfig:
      return "INVALID_CONFIG";
    case KafkaError::kInvalidRequest:
      return "INVALID_REQUEST";
    case KafkaError::kUnsupportedForMessageFormat:
      return "UNSUPPORTED_FOR_MESSAGE_FORMAT";
    case KafkaError::kOutOfOrderSequenceNumber:
      return "OUT_OF_ORDER_SEQUENCE_NUMBER";
    case KafkaError::kDuplicateSequenceNumber:
      return "DUPLICATE_SEQUENCE_NUMBER";
    case KafkaError::kInvalidProducerEpoch:
      return "INVALID_PRODUCER_EPOCH";
    case KafkaError::kKafkaStorageError:
      return "KAFKA_STORAGE_ERROR";
    case KafkaError::kUnknownProducerId:
      return "UNKNOWN_PRODUCER_ID";
    case KafkaError::kGroupIdNotFound:
      return "GROUP_ID_NOT_FOUND";
    case KafkaError::kInvalidRecord:
      return "INVALID_RECORD";
  }
  return "UNKNOWN";
}

KafkaError to_kafka_error(const Status& st) {
  switch (st.code()) {
    case StatusCode::kOk:
      return KafkaError::kNone;
    case StatusCode::kInvalidArgument:
      return KafkaError::kInvalidRequest;
    case StatusCode::kNotFound:
      return KafkaError::kUnknownTopicOrPartition;
    case StatusCode::kAlreadyExists:
      return KafkaError::kTopicAlreadyExists;
    case StatusCode::kCorruption:
      return KafkaError::kCorruptMessage;
    case StatusCode::kIOError:
      return KafkaError::kKafkaStorageError;
    case StatusCode::kUnavailable:
      return KafkaError::kLeaderNotAvailable;
    case StatusCode::kTimeout:
      return KafkaError::kRequestTimedOut;
    case StatusCode::kUnimplemented:
      return KafkaError::kUnsupportedVersion;
    case StatusCode::kPermissionDenied:
      return KafkaError::kTopicAuthorizationFailed;
    case StatusCode::kConflict:
    case StatusCode::kCancelled:
    case StatusCode::kInternal:
      return KafkaError::kUnknownServerError;
  }
  return KafkaError::kUnknownServerError;
}

}  // namespace sluice::bus
