// The data plane's choice of a new flow's table slot, computed in userspace
// for `lb4ctl trace`: the same MurmurHash3 (x86_32, seed "LB4") over the ten
// 32-bit words of the flow key as hash_flow() in bpf/lib/select.h, and the
// same key as parse_packet() builds. tests/bpf/flow_hash_test.cpp runs the
// XDP program on random flows and checks that both agree.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <cstring>

#include "bpf/lb4_abi.h"
#include "userspace/common/net.h"

namespace lb4 {

inline constexpr uint32_t kFlowHashSeed = 0x4c423400;  // "LB4"

// The conntrack key of a packet from client:clientPort to vip:vipPort (ports
// in host order): zeroed, IPv4 addresses in the first 4 bytes.
inline lb4_flow_key makeFlowKey(const IpAddress& client, uint16_t clientPort, const IpAddress& vip,
                                uint16_t vipPort, Proto proto) {
  lb4_flow_key key;
  std::memset(&key, 0, sizeof(key));
  size_t len = client.family == Family::kIpv6 ? 16 : 4;
  std::memcpy(key.src, client.bytes.data(), len);
  std::memcpy(key.dst, vip.bytes.data(), len);
  key.sport = htons(clientPort);
  key.dport = htons(vipPort);
  key.proto = static_cast<uint8_t>(proto);
  key.family = client.family == Family::kIpv6 ? LB4_AF_INET6 : LB4_AF_INET;
  return key;
}

inline uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

// hash_flow(): the key's words are read in host byte order, as the program
// reads them on this host.
inline uint32_t hashFlow(const lb4_flow_key& key) {
  constexpr size_t kWords = sizeof(lb4_flow_key) / 4;
  uint32_t words[kWords];
  std::memcpy(words, &key, sizeof(words));
  uint32_t h = kFlowHashSeed;
  for (uint32_t w : words) {
    uint32_t k = w * 0xcc9e2d51U;
    k = rotl32(k, 15) * 0x1b873593U;
    h ^= k;
    h = rotl32(h, 13) * 5 + 0xe6546b64U;
  }
  h ^= static_cast<uint32_t>(sizeof(words));
  h ^= h >> 16;
  h *= 0x85ebca6bU;
  h ^= h >> 13;
  h *= 0xc2b2ae35U;
  h ^= h >> 16;
  return h;
}

// select_maglev(): the slot of lb4_rings[vip_id] a new flow takes.
inline uint32_t flowSlot(const lb4_flow_key& key, uint32_t ringSize) {
  return ringSize == 0 ? 0 : hashFlow(key) % ringSize;
}

}  // namespace lb4
