// Package sensirion holds what Sensirion's I²C sensors (SCD4x, SPS30) share:
// the CRC-8 that protects every 16-bit word on the wire (polynomial 0x31,
// init 0xFF, MSB first, no reflection, no final XOR; test vector 0xBEEF →
// 0x92), the framing of words followed by their CRC, and Chip, the life of
// a measuring chip that both drivers are built on (commands, initialisation,
// a bounded wait for the next sample, warm-up, halt).
//
// Datasheets: SCD4x https://sensirion.com/media/documents/48C4B7FB/64C134E7/Sensirion_SCD4x_Datasheet.pdf
// section 3.11, SPS30 https://sensirion.com/media/documents/8600FF88/64A3B8D6/Sensirion_PM_Sensors_Datasheet_SPS30.pdf
// section 6.2.
//
// A CRC mismatch is reported as ErrCRC: the caller must treat the whole
// reading as a read error, never return a value from a damaged frame.
package sensirion
