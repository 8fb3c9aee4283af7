#pragma once
/// CRC-16/XMODEM (poly 0x1021, init 0, no reflection, no final xor), the checksum NKeys append
/// little-endian to every encoded key (nats-io/nkeys crc16.go).

#include <cstdint>
#include <string_view>

namespace natstack {

/// Check value: Crc16("123456789") == 0x31C3.
uint16_t Crc16(std::string_view data);

}  // namespace natstack
