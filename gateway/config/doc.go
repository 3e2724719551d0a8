// Package config parses, validates and canonicalises edgegw's YAML
// configuration.
//
// # Format
//
// A configuration is one YAML document whose top level is a mapping with the
// sections version, gateway, uplink, recipients, batch, buffer, log and
// devices; configs/*.yaml in the repository are commented examples of every
// field and its default. Decoding is strict:
//
//   - unknown fields, duplicate keys, empty files and multiple documents are
//     errors; YAML aliases and merge keys (<<) are refused;
//   - a field left out, or set to null, takes its default (the Default*
//     constants); a required field left out is an error;
//   - durations use Go syntax (500ms, 10s, 5m, 720h);
//   - sizes are an integer of bytes, or an integer followed by B, KiB, MiB,
//     GiB, KB, MB or GB (see ParseSize);
//   - data classes, the keys of recipients, match [a-z][a-z0-9-]{0,31}, and
//     "gap" is reserved; every device's class must have a recipient;
//   - the broker must use TLS: ssl://, tls:// or mqtts://, then host:port.
//
// Validation does no I/O: the files and directories a configuration names
// are not opened. Device options are decoded but left to the drivers, which
// report their own errors with Config.DeviceError; whether a device's driver
// kind exists is checked by Config.Validate's hook, not by Parse.
//
// # Errors
//
// Parse, Load and Validate report every problem at once, as *FieldError
// values joined with errors.Join and ordered by line. Each one names the
// file, the line, the dotted field path and the value as written:
//
//	pi.yaml:14: devices[2].interval: "5x" is not a duration (like 500ms, 10s, 5m, 720h)
//	demo.yaml:3: uplink.brokr: unknown field
//	demo.yaml:6: uplink.ca: missing required field
//
// A missing field is reported on the line of the mapping that should hold it.
//
// # Schema
//
// The Config type and the section types it holds are the schema: their
// struct tags (yaml key, unit, checks and bounds) drive one reflective walk
// that decodes the YAML nodes with their lines, another that validates, and
// a third that writes the canonical form. A field is added to the format by
// adding it, tagged, to one of these types, and its default, if any, to the
// Default constants.
//
// # Canonical form
//
// Config.Canonical re-encodes a configuration deterministically, with defaults
// written out and keys sorted; parsing the canonical form gives back an equal
// Config. Fleet operations do not sign it: they sign the file as written, and
// a gateway applies those bytes (gateway/fleet).
package config
