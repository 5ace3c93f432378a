// Byte layouts of the store's keys and values. Internal to src/store.
//
// rules:   key = source '\0' kind-letter value       value = EncodedRuleValue
// meta:    "serial" -> 8-byte big-endian serial
//          "class/" + 2-byte id -> source '\0' category '\0' action
//          "expiry/" + 8-byte time + rule key -> "" (rules that expire, in time order)
// audit:   8-byte serial + 4-byte seq -> JSON record
// sources: name -> JSON SourceInfo
// records: table-letter key -> JSON document (see RecordTable)
// Big-endian numbers keep RocksDB's byte order equal to numeric order.
#ifndef SARING_STORE_CODEC_H_
#define SARING_STORE_CODEC_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "saring/rule.h"
#include "saring/store.h"

namespace saring::store {

inline constexpr std::string_view kSerialKey = "serial";
inline constexpr std::string_view kClassPrefix = "class/";
inline constexpr std::string_view kExpiryPrefix = "expiry/";
inline constexpr std::string_view kSchemaKey = "schema";
inline constexpr std::string_view kSchemaVersion = "1";
inline constexpr std::string_view kRulesSerialKey = "rules_serial";

void PutBigEndian64(std::string* out, std::uint64_t v);
void PutBigEndian32(std::string* out, std::uint32_t v);
std::uint64_t GetBigEndian64(std::string_view in);
std::uint32_t GetBigEndian32(std::string_view in);

char KindLetter(RuleKind kind);
bool KindFromLetter(char letter, RuleKind* kind);

std::string RuleKeyBytes(std::string_view source, RuleKind kind, std::string_view value);
std::string SourcePrefix(std::string_view source);  // source '\0'
// Splits a rules key; false if it is malformed.
bool ParseRuleKey(std::string_view key, std::string_view* source, RuleKind* kind,
                  std::string_view* value);

// What the store keeps per rule beside its key.
struct RuleValue {
  ClassId class_id = 0;
  std::int64_t added_at = 0;
  std::int64_t expires_at = 0;
  std::string_view added_by;
  std::string_view note;
};
std::string EncodeRuleValue(const RuleValue& value);
// Views point into `bytes`. False if `bytes` is malformed.
bool DecodeRuleValue(std::string_view bytes, RuleValue* value);

std::string ClassKey(ClassId id);
std::string EncodeClass(const RuleClass& cls);
bool DecodeClass(std::string_view bytes, RuleClass* cls);

std::string ExpiryKey(std::int64_t expires_at, std::string_view rule_key);
std::string AuditKey(std::uint64_t serial, std::uint32_t seq);
std::string RecordKey(RecordTable table, std::string_view key);

}  // namespace saring::store

#endif  // SARING_STORE_CODEC_H_
